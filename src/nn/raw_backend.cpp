// The raw backend (CryptoNets' RawFactory): the integer model in exact 128-bit arithmetic with
// overflow detection, recording the largest absolute value after every step and its signed bits.
// Only the final logits must fit the plaintext modulus product T (BFV arithmetic is exact mod T),
// but intermediate maxima are reported too.
#include <algorithm>
#include <mutex>

#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/backend.h"

namespace leukocrypt::nn {
namespace {

// One linear step of the latency layout on all N slots of one ciphertext, exactly as the BFV
// server runs it (same rotations, same wrap-around within the two rows).
std::vector<Int128> apply_slot_linear(const SlotLinear& l, const std::vector<Int128>& x, std::size_t block) {
  const std::size_t n = x.size();
  std::vector<std::vector<Int128>> baby;
  for (int b : l.baby) baby.push_back(rotate_slot_rows(x, b));
  std::vector<Int128> y(n, 0);
  for (const auto& g : l.giants) {
    std::vector<Int128> acc(n, 0);
    for (const auto& t : g.terms)
      for (std::size_t s = 0; s < n; ++s)
        if (const std::int64_t w = t.diag[s % block]) acc[s] = checked_add(acc[s], checked_mul(Int128(w), baby[t.baby][s]));
    acc = rotate_slot_rows(acc, g.step);
    for (std::size_t s = 0; s < n; ++s) y[s] = checked_add(y[s], acc[s]);
  }
  for (int f : l.fold) {
    const auto r = rotate_slot_rows(y, f);
    for (std::size_t s = 0; s < n; ++s) y[s] = checked_add(y[s], r[s]);
  }
  for (std::size_t b0 = 0; b0 < n; b0 += block)
    for (const auto& [slot, bias] : l.bias) y[b0 + slot] = checked_add(y[b0 + slot], bias);
  return y;
}

// The latency layout: cells packed side by side into N-slot vectors, run step by step. The largest
// value is taken over the slots that hold the step's values (other slots hold partial sums).
void run_latency(const Plan& plan, const std::vector<const std::uint8_t*>& images, BatchOutput& out,
                 std::vector<UInt128>& max_abs) {
  const SlotLayout& sl = plan.slots;
  require(sl.scheme() == SlotScheme::kBfv, "raw backend: the plan is in the CKKS latency layout (float weights)");
  const std::size_t per = sl.cells_per_ciphertext(), groups = sl.ciphertexts_for(images.size());
  std::mutex mu;
  ThreadPool::global().parallel_for(0, groups, [&](std::size_t gi) {
    const std::size_t c0 = gi * per, cells = std::min(per, images.size() - c0);
    std::vector<Int128> x(sl.n, 0);
    for (std::size_t c = 0; c < cells; ++c)
      for (std::size_t v = 0; v < sl.in_slot.size(); ++v) x[c * sl.block + sl.in_slot[v]] = images[c0 + c][v];
    std::vector<UInt128> local(plan.steps.size(), 0);
    std::vector<std::uint32_t> slots = sl.in_slot;
    for (std::size_t si = 0; si < plan.steps.size(); ++si) {
      const auto& s = plan.steps[si];
      if (s.kind == OpKind::kLinear) {
        x = apply_slot_linear(sl.linear[si], x, sl.block);
        slots = sl.linear[si].out_slot;
      } else if (s.kind == OpKind::kSquare) {
        for (auto& v : x) v = checked_mul(v, v);
      }
      for (std::size_t c = 0; c < cells; ++c)
        for (auto p : slots) local[si] = std::max(local[si], abs128(x[c * sl.block + p]));
    }
    for (std::size_t c = 0; c < cells; ++c)
      for (std::size_t o = 0; o < out.outputs; ++o) out.exact[(c0 + c) * out.outputs + o] = x[c * sl.block + sl.out_slot[o]];
    std::lock_guard lock(mu);
    for (std::size_t si = 0; si < local.size(); ++si) max_abs[si] = std::max(max_abs[si], local[si]);
  });
}

class RawBackend final : public Backend {
 public:
  std::string name() const override { return "raw"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    require(plan.blocks.empty(), "raw backend: runs the unblocked plan (spatial blocks are a BFV layout)");
    BatchOutput out;
    out.images = images.size();
    out.outputs = plan.output_size();
    out.exact.resize(out.images * out.outputs);
    out.logits.resize(out.images * out.outputs);
    out.report.backend = name();
    std::vector<UInt128> max_abs(plan.steps.size(), 0);
    std::mutex mu;
    Timer t;
    if (plan.layout == Layout::kLatency) run_latency(plan, images, out, max_abs);
    else ThreadPool::global().parallel_for(0, images.size(), [&](std::size_t k) {
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
