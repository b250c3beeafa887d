// The float reference backend: the collapsed float model evaluated along the plan (doubles).
#include <cmath>

#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/backend.h"

namespace leukocrypt::nn {
namespace {

class FloatBackend final : public Backend {
 public:
  std::string name() const override { return "float"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    require(plan.blocks.empty(), "float backend: runs the unblocked plan (spatial blocks are a BFV layout)");
    BatchOutput out;
    out.images = images.size();
    out.outputs = plan.output_size();
    out.logits.resize(out.images * out.outputs);
    out.report.backend = name();
    Timer t;
    ThreadPool::global().parallel_for(0, images.size(), [&](std::size_t k) {
      std::vector<double> x(plan.input_size());
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = double(images[k][i]) * double(plan.input_scale);
      for (const auto& s : plan.steps) {
        if (s.kind == OpKind::kLinear) {
          const auto& l = s.linear;
          std::vector<double> y(std::size_t(l.n_out));
          for (int o = 0; o < l.n_out; ++o) {
            double acc = l.f_bias[o];
            for (auto j = l.f_row_start[o]; j < l.f_row_start[o + 1]; ++j) acc += double(l.f_weight[j]) * x[l.f_index[j]];
            y[o] = acc;
          }
          x = std::move(y);
        } else if (s.kind == OpKind::kSquare) {
          for (auto& v : x) v *= v;
        }
      }
      std::copy(x.begin(), x.end(), out.logits.begin() + std::ptrdiff_t(k * out.outputs));
    });
    out.report.evaluate_seconds = t.seconds();
    for (const auto& s : plan.steps) out.report.steps.push_back({s.name, s.kind, 0, 0, 0, -1});
    return out;
  }
};

}  // namespace

std::unique_ptr<Backend> make_float_backend() { return std::make_unique<FloatBackend>(); }

}  // namespace leukocrypt::nn
