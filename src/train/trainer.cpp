// Training loop and evaluation helpers.
#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <random>

#include "common/error.h"
#include "common/progress.h"
#include "common/timer.h"

namespace leukocrypt::train {
namespace {

// Loss for one batch: weighted cross-entropy (softmax nets) or weighted binary cross-entropy on
// one-hot targets (sigmoid nets, as Keras' binary_crossentropy with two sigmoid outputs).
torch::Tensor loss_fn(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& class_w,
                      bool sigmoid, double label_smoothing = 0.0) {
  namespace F = torch::nn::functional;
  if (!sigmoid)
    return F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().weight(class_w).label_smoothing(label_smoothing));
  auto onehot = F::one_hot(y, logits.size(1)).to(torch::kFloat32);
  auto per = F::binary_cross_entropy_with_logits(
                 logits, onehot, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
                 .mean(1);
  auto w = class_w.index_select(0, y);
  return (per * w).sum() / w.sum();
}

std::vector<std::string> pick(const std::vector<std::string>& v, const std::vector<int64_t>& idx) {
  std::vector<std::string> out;
  if (v.empty()) return out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(v[i]);
  return out;
}

template <class Fn>
torch::Tensor batched(NetImpl& net, const torch::Tensor& images_u8, int64_t batch, Fn fn) {
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < images_u8.size(0); s += batch)
    parts.push_back(fn(to_input(images_u8.slice(0, s, std::min(s + batch, images_u8.size(0))))));
  net.train(was_training);
  return torch::cat(parts, 0);
}

// lambda ~ Beta(a, a) from two gamma draws.
double sample_beta(std::mt19937_64& rng, double a) {
  std::gamma_distribution<double> g(a, 1.0);
  const double x = g(rng), y = g(rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}

// Exponential moving average of every floating-point parameter and buffer (batch-norm statistics).
class WeightAverage {
 public:
  WeightAverage(NetImpl& net, double decay) : decay_(decay) {
    torch::NoGradGuard no_grad;
    for (auto& p : net.named_parameters()) track(p.value());
    for (auto& b : net.named_buffers())
      if (b.value().is_floating_point()) track(b.value());
  }
  void update() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < live_.size(); ++i) avg_[i].mul_(decay_).add_(live_[i], 1.0 - decay_);
  }
  void copy_into_net() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < live_.size(); ++i) live_[i].copy_(avg_[i]);
  }

 private:
  void track(const torch::Tensor& t) {
    live_.push_back(t);
    avg_.push_back(t.detach().clone());
  }
  double decay_;
  std::vector<torch::Tensor> live_, avg_;
};

}  // namespace

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
}

torch::Tensor index_tensor(const std::vector<int64_t>& idx) {
  return torch::tensor(idx, torch::TensorOptions().dtype(torch::kInt64));
}

std::vector<int64_t> balanced_draws(const std::vector<int64_t>& idx, const torch::Tensor& labels,
                                    const std::vector<std::string>* subjects, std::mt19937_64& rng) {
  auto lab = labels.accessor<int64_t, 1>();
  std::map<int64_t, std::map<std::string, std::size_t>> count;  // class -> subject -> cells
  auto subject = [&](int64_t i) { return subjects ? (*subjects)[i] : std::string(); };
  for (auto i : idx) ++count[lab[i]][subject(i)];
  std::vector<double> w;
  w.reserve(idx.size());
  for (auto i : idx) {
    const auto& per_subject = count[lab[i]];
    w.push_back(1.0 / (double(per_subject.size()) * double(per_subject.at(subject(i)))));
  }
  std::discrete_distribution<std::size_t> pick(w.begin(), w.end());
  std::vector<int64_t> out(idx.size());
  for (auto& o : out) o = idx[pick(rng)];
  return out;
}

torch::Tensor predict_logits(NetImpl& net, const torch::Tensor& images_u8, int64_t batch) {
  return batched(net, images_u8, batch, [&](const torch::Tensor& x) { return net.forward(x); });
}

torch::Tensor predict_features(NetImpl& net, const torch::Tensor& images_u8, int64_t batch) {
  return batched(net, images_u8, batch, [&](const torch::Tensor& x) { return net.features(x).flatten(1); });
}

void recalibrate_batchnorm(NetImpl& net, const torch::Tensor& images_u8, int64_t batch) {
  std::vector<torch::nn::BatchNorm2dImpl*> bn2;
  std::vector<torch::nn::BatchNorm1dImpl*> bn1;
  for (const auto& m : net.modules(/*include_self=*/false)) {
    if (auto* b = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) bn2.push_back(b);
    if (auto* b = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.get())) bn1.push_back(b);
  }
  if (bn2.empty() && bn1.empty()) return;
  torch::NoGradGuard no_grad;
  net.eval();  // dropout off
  auto prepare = [](auto* b) {
    b->reset_running_stats();
    b->options.momentum(c10::nullopt);  // cumulative average over all batches
    b->train();
  };
  for (auto* b : bn2) prepare(b);
  for (auto* b : bn1) prepare(b);
  for (int64_t s = 0; s < images_u8.size(0); s += batch) {
    const int64_t e = std::min(s + batch, images_u8.size(0));
    if (e - s < 2) break;
    net.forward(to_input(images_u8.slice(0, s, e)));
  }
  for (auto* b : bn2) b->options.momentum(0.1);
  for (auto* b : bn1) b->options.momentum(0.1);
  net.eval();
}

Metrics evaluate(NetImpl& net, const TensorData& data, const std::vector<int64_t>& idx, std::vector<int>* preds) {
  auto ix = index_tensor(idx);
  auto logits = predict_logits(net, data.images.index_select(0, ix));
  auto pred = logits.argmax(1).contiguous();
  auto y = data.labels.index_select(0, ix).contiguous();
  std::vector<int> yt(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + y.numel());
  std::vector<int> yp(pred.data_ptr<int64_t>(), pred.data_ptr<int64_t>() + pred.numel());
  if (preds) *preds = yp;
  return compute_metrics(yt, yp, static_cast<int>(logits.size(1)), pick(data.subjects, idx));
}

TrainResult train_net(NetImpl& net, const TensorData& data, const std::vector<int64_t>& train_idx,
                      const std::vector<int64_t>& val_idx, const TrainOptions& opt) {
  require(opt.epochs >= 1, "epochs must be at least 1, got " + std::to_string(opt.epochs));
  require(opt.batch_size >= 2, "batch size must be at least 2, got " + std::to_string(opt.batch_size));
  require(!train_idx.empty(), "empty training set");
  const bool sigmoid = net.output_kind() == "sigmoid";
  const int64_t num_classes = static_cast<int64_t>(data.classes.size());

  // Class weights N / (K * n_c) from the training side.
  auto y_train_all = data.labels.index_select(0, index_tensor(train_idx));
  auto counts = torch::bincount(y_train_all, {}, num_classes).to(torch::kFloat32);
  require(!opt.subject_balanced || data.subjects.size() == static_cast<std::size_t>(data.size()),
          "subject-balanced sampling needs a subject for every image (a prepared C-NMC dataset)");
  // Balanced draws replace the class weights (subject-balanced draws are class-balanced too).
  const bool balanced_draws_on = opt.balanced_sampling || opt.subject_balanced;
  auto class_w = opt.class_weighted && !balanced_draws_on
                     ? (static_cast<float>(train_idx.size()) / (num_classes * counts.clamp_min(1.0f)))
                     : torch::ones({num_classes});
  class_w = torch::where(counts > 0, class_w, torch::zeros_like(class_w));

  torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(opt.lr).weight_decay(opt.weight_decay));
  require(opt.label_smoothing >= 0 && opt.label_smoothing < 1,
          "label smoothing must be in [0, 1), got " + std::to_string(opt.label_smoothing));
  require(opt.mixup_alpha >= 0, "mixup alpha must be >= 0, got " + std::to_string(opt.mixup_alpha));
  require(opt.ema_decay >= 0 && opt.ema_decay < 1, "EMA decay must be in [0, 1), got " + std::to_string(opt.ema_decay));
  std::mt19937_64 rng(opt.seed);
  std::mt19937_64 mix_rng(opt.seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<int64_t> order = train_idx;
  std::optional<WeightAverage> ema;
  if (opt.ema_decay > 0) ema.emplace(net, opt.ema_decay);
  auto val_ix = index_tensor(val_idx);
  auto val_images = data.images.index_select(0, val_ix);
  auto val_labels = data.labels.index_select(0, val_ix);

  TrainResult result;
  result.parameters = net.parameter_count();
  result.epochs = opt.epochs;
  Timer total;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t batches = (n + opt.batch_size - 1) / opt.batch_size;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    Timer et;
    double lr = opt.lr;
    if (opt.cosine && opt.epochs > 1)
      lr = opt.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / (opt.epochs - 1))));
    for (auto& g : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);

    if (balanced_draws_on)
      order = balanced_draws(train_idx, data.labels, opt.subject_balanced ? &data.subjects : nullptr, rng);
    else std::shuffle(order.begin(), order.end(), rng);
    net.train();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    char label[96];
    std::snprintf(label, sizeof label, "%s epoch %d/%d", opt.label.c_str(), epoch, opt.epochs);
    ProgressBar bar(label, static_cast<std::size_t>(batches), opt.progress);
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t s = b * opt.batch_size, e = std::min(n, s + opt.batch_size);
      if (e - s < 2) { bar.tick(); continue; }  // batch norm needs two samples
      auto ix = torch::tensor(std::vector<int64_t>(order.begin() + s, order.begin() + e), torch::kInt64);
      auto x = to_input(data.images.index_select(0, ix));
      if (opt.augment) x = augment_batch(x, opt.augmentation);
      auto y = data.labels.index_select(0, ix);
      torch::Tensor loss, logits;
      if (opt.mixup_alpha > 0) {
        const double lam = sample_beta(mix_rng, opt.mixup_alpha);
        auto perm = torch::randperm(e - s, torch::kInt64);
        logits = net.forward(x * lam + x.index_select(0, perm) * (1 - lam));
        loss = loss_fn(logits, y, class_w, sigmoid, opt.label_smoothing) * lam +
               loss_fn(logits, y.index_select(0, perm), class_w, sigmoid, opt.label_smoothing) * (1 - lam);
      } else {
        logits = net.forward(x);
        loss = loss_fn(logits, y, class_w, sigmoid, opt.label_smoothing);
      }
      adam.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(net.parameters(), 5.0);
      adam.step();
      if (ema) ema->update();
      const double lv = loss.item<double>();
      require(std::isfinite(lv), opt.label + ": training diverged (loss " + std::to_string(lv) + ") at epoch " +
                                     std::to_string(epoch) + "; lower --lr");
      loss_sum += lv * (e - s);
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      seen += e - s;
      char st[64];
      std::snprintf(st, sizeof st, "loss %.4f acc %.4f", loss_sum / seen, static_cast<double>(correct) / seen);
      bar.set_status(st);
      bar.tick();
    }
    EpochStats es;
    es.epoch = epoch;
    es.lr = lr;
    es.train_loss = seen ? loss_sum / seen : 0;
    es.train_acc = seen ? static_cast<double>(correct) / seen : 0;
    if (!val_idx.empty()) {
      torch::NoGradGuard no_grad;
      auto logits = predict_logits(net, val_images);
      es.val_loss = loss_fn(logits, val_labels, class_w, sigmoid).item<double>();
      auto pred = logits.argmax(1).contiguous();
      auto yv = val_labels.contiguous();
      std::vector<int> yt(yv.data_ptr<int64_t>(), yv.data_ptr<int64_t>() + yv.numel());
      std::vector<int> yp(pred.data_ptr<int64_t>(), pred.data_ptr<int64_t>() + pred.numel());
      auto m = compute_metrics(yt, yp, static_cast<int>(num_classes));
      es.val_acc = m.accuracy;
      es.val_balanced_acc = m.balanced_accuracy;
    }
    es.seconds = et.seconds();
    char st[160];
    std::snprintf(st, sizeof st, "loss %.4f acc %.4f | val loss %.4f acc %.4f bal %.4f | %.1fs", es.train_loss,
                  es.train_acc, es.val_loss, es.val_acc, es.val_balanced_acc, es.seconds);
    if (bar.active()) {
      bar.set_status(st);
      bar.finish();
    } else if (opt.log_epochs) {
      std::cerr << label << ": " << st << std::endl;
    }
    result.history.push_back(es);
  }
  if (ema) ema->copy_into_net();
  if (opt.recalibrate_bn) {
    if (!val_idx.empty()) result.val_before_recalibration = evaluate(net, data, val_idx);
    recalibrate_batchnorm(net, data.images.index_select(0, index_tensor(train_idx)));
  }
  result.train_seconds = total.seconds();
  result.train = evaluate(net, data, train_idx);
  if (!val_idx.empty()) result.val = evaluate(net, data, val_idx, &result.val_pred);
  if (!opt.recalibrate_bn) result.val_before_recalibration = result.val;
  return result;
}

}  // namespace leukocrypt::train
