// Linear SVM by SGD on the primal hinge loss.
#include "train/svm.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/error.h"

namespace leukocrypt::train {

torch::Tensor LinearSvm::decision(const torch::Tensor& x) const {
  torch::NoGradGuard no_grad;
  return torch::mv((x - mean) / stddev, w) + b;
}

torch::Tensor LinearSvm::predict(const torch::Tensor& x) const { return (decision(x) > 0).to(torch::kInt64); }

LinearSvm train_linear_svm(const torch::Tensor& x, const torch::Tensor& y, const SvmOptions& opt) {
  require(x.dim() == 2 && y.dim() == 1 && x.size(0) == y.size(0),
          "SVM needs N x D features and N labels, got " + std::to_string(x.dim()) + "-d features and " +
              std::to_string(y.size(0)) + " labels");
  require(x.size(0) >= 2, "SVM needs at least two samples");
  const int64_t n = x.size(0), d = x.size(1);
  LinearSvm svm;
  svm.mean = x.mean(0);
  svm.stddev = x.std(0).clamp_min(1e-6);
  auto xs = (x - svm.mean) / svm.stddev;
  auto ys = y.to(torch::kFloat32) * 2 - 1;  // label 1 -> +1, label 0 -> -1
  const double n1 = y.sum().item<double>(), n0 = n - n1;
  auto cw = torch::where(ys > 0, torch::full_like(ys, n1 > 0 ? n / (2 * n1) : 0.0),
                         torch::full_like(ys, n0 > 0 ? n / (2 * n0) : 0.0));
  if (!opt.class_weighted) cw = torch::ones_like(ys);

  auto w = torch::zeros({d}, torch::requires_grad());
  auto b = torch::zeros({}, torch::requires_grad());
  torch::optim::SGD sgd({w, b}, torch::optim::SGDOptions(opt.lr).momentum(0.9));
  std::mt19937_64 rng(opt.seed);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    // 1/t-style decay keeps the last iterates close to the optimum.
    const double lr = opt.lr / (1.0 + 0.2 * epoch);
    for (auto& g : sgd.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t s = 0; s < n; s += opt.batch_size) {
      const int64_t e = std::min(n, s + opt.batch_size);
      auto ix = torch::tensor(std::vector<int64_t>(order.begin() + s, order.begin() + e), torch::kInt64);
      auto xb = xs.index_select(0, ix), yb = ys.index_select(0, ix), wb = cw.index_select(0, ix);
      auto margin = torch::clamp_min(1 - yb * (torch::mv(xb, w) + b), 0);
      auto loss = (wb * margin).mean() + 0.5 * opt.lambda * w.pow(2).sum();
      sgd.zero_grad();
      loss.backward();
      sgd.step();
    }
  }
  svm.w = w.detach();
  svm.b = b.detach();
  return svm;
}

}  // namespace leukocrypt::train
