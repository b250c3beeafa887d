// The raw backend (CryptoNets' RawFactory): the integer model in exact 128-bit arithmetic with
// overflow detection, recording the largest absolute value after every step and its signed bits.
// Only the final logits must fit the plaintext modulus product T (BFV arithmetic is exact mod T),
// but intermediate maxima are reported too.
#include <algorithm>
#include <mutex>

#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/backend.h"

namespace leukocrypt::nn {
namespace {

class RawBackend final : public Backend {
 public:
  std::string name() const override { return "raw"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    BatchOutput out;
    out.images = images.size();
    out.outputs = plan.output_size();
    out.exact.resize(out.images * out.outputs);
    out.logits.resize(out.images * out.outputs);
    out.report.backend = name();
    std::vector<UInt128> max_abs(plan.steps.size(), 0);
    std::mutex mu;
    Timer t;
    ThreadPool::global().parallel_for(0, images.size(), [&](std::size_t k) {
      std::vector<UInt128> local(plan.steps.size(), 0);
      std::vector<Int128> x(images[k], images[k] + plan.input_size());
      for (std::size_t si = 0; si < plan.steps.size(); ++si) {
        const auto& s = plan.steps[si];
        if (s.kind == OpKind::kLinear) {
          const auto& l = s.linear;
          std::vector<Int128> y(std::size_t(l.n_out));
          for (int o = 0; o < l.n_out; ++o) {
            Int128 acc = l.bias[o];
            for (auto j = l.row_start[o]; j < l.row_start[o + 1]; ++j)
              acc = checked_add(acc, checked_mul(Int128(l.weight[j]), x[l.index[j]]));
            y[o] = acc;
          }
          x = std::move(y);
        } else if (s.kind == OpKind::kSquare) {
          for (auto& v : x) v = checked_mul(v, v);
        }
        for (auto v : x) local[si] = std::max(local[si], abs128(v));
      }
      std::copy(x.begin(), x.end(), out.exact.begin() + std::ptrdiff_t(k * out.outputs));
      std::lock_guard lock(mu);
      for (std::size_t si = 0; si < local.size(); ++si) max_abs[si] = std::max(max_abs[si], local[si]);
    });
    out.report.evaluate_seconds = t.seconds();
    for (std::size_t i = 0; i < out.exact.size(); ++i)
      out.logits[i] = double((long double)out.exact[i] / plan.output_scale);
    for (std::size_t si = 0; si < plan.steps.size(); ++si) {
      const auto& s = plan.steps[si];
      out.report.steps.push_back({s.name, s.kind, 0, max_abs[si], signed_bits(max_abs[si]), -1});
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Backend> make_raw_backend() { return std::make_unique<RawBackend>(); }

}  // namespace leukocrypt::nn
