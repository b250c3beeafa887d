// Server-side plan execution on CKKS ciphertexts: the first linear layer streamed, the rest resident.
#include "nn/ckks_evaluator.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "common/env.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/ckks_settings.h"

namespace leukocrypt::nn {
namespace {

// Outputs per group of the streamed layer: a group's inputs are held while it runs.
constexpr std::size_t kGroup = 16;
// Groups per fold chunk: 128 first-layer outputs held at most (MNIST: 7 chunks; peak 0.72 GB
// against 0.88 GB with 16 groups and 1.40 GB unfolded, evaluation ~5 % faster than with 16).
constexpr std::size_t kFoldGroups = 8;

}  // namespace

// Inputs of the streamed layer: pulled once on first use, dropped after their last group.
class CkksPlanEvaluator::Inputs {
 public:
  Inputs(const CkksSource& source, const std::vector<std::uint32_t>& uses, CkksStreamStats& stats)
      : source_(source), left_(uses.size()), cts_(uses.size()), once_(new std::once_flag[uses.size()]), stats_(stats) {
    for (std::size_t u = 0; u < uses.size(); ++u) left_[u] = uses[u];
  }
  const ckks::Ciphertext& get(std::uint32_t u) {
    std::call_once(once_[u], [&] {
      Timer t;
      auto ct = source_(u);
      std::lock_guard<std::mutex> lk(mu_);
      cts_[u] = std::make_unique<ckks::Ciphertext>(std::move(ct));
      stats_.max_resident_inputs = std::max(stats_.max_resident_inputs, ++resident_);
      stats_.source_seconds += t.seconds();
    });
    std::lock_guard<std::mutex> lk(mu_);
    return *cts_[u];
  }
  void release(std::uint32_t u) {
    if (--left_[u] != 0) return;
    std::lock_guard<std::mutex> lk(mu_);
    cts_[u].reset();
    --resident_;
  }

 private:
  const CkksSource& source_;
  std::vector<std::atomic<std::uint32_t>> left_;
  std::vector<std::unique_ptr<ckks::Ciphertext>> cts_;
  std::unique_ptr<std::once_flag[]> once_;
  CkksStreamStats& stats_;
  std::mutex mu_;
  std::size_t resident_ = 0;
};

CkksPlanEvaluator::CkksPlanEvaluator(const Plan& plan, ckks::ContextPtr ctx, ckks::RelinKeys relin_keys,
                                     CkksSchedule schedule)
    : plan_(plan), ctx_(std::move(ctx)), eval_(ctx_), relin_keys_(std::move(relin_keys)), schedule_(std::move(schedule)) {
  require(plan_.blocks.empty(), "CkksPlanEvaluator: spatial blocks are a BFV layout");
  require(plan_.steps.size() >= 3 && plan_.steps[0].kind == OpKind::kEncrypt && plan_.steps[1].kind == OpKind::kLinear &&
              plan_.steps.back().kind == OpKind::kDecrypt,
          "CkksPlanEvaluator: the plan must be Encrypt, Linear, ..., Decrypt");
  const std::size_t need = ckks_rescales(plan_, schedule_) + 1;
  require(ctx_->params().max_level() >= need, "CkksPlanEvaluator: the plan needs " + std::to_string(need) +
                                                  " ciphertext primes (its rescales plus q_0); the parameters have " +
                                                  std::to_string(ctx_->params().max_level()));
  require(relin_keys_.params_id() == ctx_->params().id(), "CkksPlanEvaluator: relinearisation key is for other parameters");
  while (segment_end_ < plan_.steps.size() && plan_.steps[segment_end_].kind != OpKind::kLinear &&
         plan_.steps[segment_end_].kind != OpKind::kDecrypt)
    ++segment_end_;
  const auto& l = plan_.steps[1].linear;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> key;  // (last input read, output)
  for (std::uint32_t o = 0; o < std::uint32_t(l.n_out); ++o) {
    std::uint32_t last = 0;
    for (auto j = l.f_row_start[o]; j < l.f_row_start[o + 1]; ++j) last = std::max(last, l.f_index[j]);
    key.emplace_back(last, o);
  }
  std::sort(key.begin(), key.end());
  uses_.assign(plan_.input_size(), 0);
  for (std::size_t g0 = 0; g0 < key.size(); g0 += kGroup) {
    Group g;
    for (std::size_t i = g0; i < std::min(key.size(), g0 + kGroup); ++i) {
      g.outputs.push_back(key[i].second);
      for (auto j = l.f_row_start[key[i].second]; j < l.f_row_start[key[i].second + 1]; ++j) g.inputs.push_back(l.f_index[j]);
    }
    std::sort(g.inputs.begin(), g.inputs.end());
    g.inputs.erase(std::unique(g.inputs.begin(), g.inputs.end()), g.inputs.end());
    for (auto u : g.inputs) ++uses_[u];
    g.row_start.push_back(0);
    for (auto o : g.outputs) {
      for (auto j = l.f_row_start[o]; j < l.f_row_start[o + 1]; ++j) {
        const auto at = std::lower_bound(g.inputs.begin(), g.inputs.end(), l.f_index[j]) - g.inputs.begin();
        g.local_index.push_back(std::uint32_t(at));
        g.weight.push_back(l.f_weight[j]);
      }
      g.row_start.push_back(std::uint32_t(g.local_index.size()));
    }
    groups_.push_back(std::move(g));
  }
  plan_fold();
}

void CkksPlanEvaluator::plan_fold() {
  if (segment_end_ >= plan_.steps.size() || plan_.steps[segment_end_].kind != OpKind::kLinear || env_off("LEUKOCRYPT_FOLD"))
    return;
  const auto& l2 = plan_.steps[segment_end_].linear;
  const std::size_t n1 = std::size_t(plan_.steps[1].linear.n_out);
  require(std::size_t(l2.n_in) == n1, "CkksPlanEvaluator: step " + std::to_string(segment_end_) + " reads " +
                                          std::to_string(l2.n_in) + " values, the streamed layer makes " + std::to_string(n1));
  std::vector<std::int64_t> pos(n1, -1);
  for (std::size_t g0 = 0; g0 < groups_.size(); g0 += kFoldGroups) {
    FoldChunk c;
    c.first_group = g0;
    c.end_group = std::min(groups_.size(), g0 + kFoldGroups);
    for (std::size_t g = c.first_group; g < c.end_group; ++g)
      for (auto o : groups_[g].outputs) {
        pos[o] = std::int64_t(c.outputs.size());
        c.outputs.push_back(o);
      }
    // Each row's terms over this chunk, in the row's own order (a dense layer: the same index list
    // for every row, so linear_layer takes them as one run).
    c.row_start.push_back(0);
    for (int o = 0; o < l2.n_out; ++o) {
      for (auto j = l2.f_row_start[o]; j < l2.f_row_start[o + 1]; ++j)
        if (pos[l2.f_index[j]] >= 0) {
          c.index.push_back(std::uint32_t(pos[l2.f_index[j]]));
          c.weight.push_back(l2.f_weight[j]);
        }
      c.row_start.push_back(std::uint32_t(c.index.size()));
    }
    for (auto o : c.outputs) pos[o] = -1;
    fold_.push_back(std::move(c));
  }
}

void CkksPlanEvaluator::fold_chunk(const FoldChunk& c, std::vector<ckks::Ciphertext>& first,
                                   std::vector<ckks::Ciphertext>& acc) const {
  std::vector<const ckks::Ciphertext*> in(c.outputs.size());
  for (std::size_t k = 0; k < in.size(); ++k) in[k] = &first[c.outputs[k]];
  auto part = eval_.linear_layer(in, c.row_start.data(), c.index.data(), c.weight.data(), c.row_start.size() - 1,
                                 weight_scale(segment_end_));
  for (auto o : c.outputs) first[o] = ckks::Ciphertext();
  if (acc.empty()) {
    acc = std::move(part);
    return;
  }
  ThreadPool::global().parallel_for(0, acc.size(), [&](std::size_t o) { eval_.add_inplace(acc[o], part[o]); });
}

void CkksPlanEvaluator::run_unary(std::size_t s, ckks::Ciphertext& ct) const {
  if (plan_.steps[s].kind != OpKind::kSquare) return;  // Relinearize and ModSwitch: nothing to do
  ct = eval_.square_relin(ct, relin_keys_);
  for (int r = 0; r < step_scale(schedule_, plan_, s).rescales; ++r) eval_.rescale_inplace(ct);
}

double CkksPlanEvaluator::weight_scale(std::size_t step) const {
  return step_scale(schedule_, plan_, step).weight_scale();
}

void CkksPlanEvaluator::rescale_and_bias(ckks::Ciphertext& ct, std::size_t step, float bias) const {
  for (int r = 0; r < step_scale(schedule_, plan_, step).rescales; ++r) eval_.rescale_inplace(ct);
  eval_.add_scalar_inplace(ct, double(bias));
}

std::vector<ckks::Ciphertext> CkksPlanEvaluator::stream_first(const CkksSource& source, CkksStreamStats& stats) const {
  Inputs inputs(source, uses_, stats);
  std::vector<ckks::Ciphertext> out(std::size_t(plan_.steps[1].linear.n_out));
  std::mutex mu;
  std::vector<ckks::Ciphertext> acc;  // the folded layer's sums
  auto run_group = [&](std::size_t g) {
    const Group& grp = groups_[g];
    std::vector<double> secs(segment_end_, 0.0);
    std::vector<const ckks::Ciphertext*> in;
    in.reserve(grp.inputs.size());
    for (auto u : grp.inputs) in.push_back(&inputs.get(u));  // pull (and time) the inputs first
    Timer t;
    auto made = eval_.linear_layer(in, grp.row_start.data(), grp.local_index.data(), grp.weight.data(), grp.outputs.size(),
                                   weight_scale(1));
    const auto& bias = plan_.steps[1].linear.f_bias;
    for (std::size_t k = 0; k < made.size(); ++k) rescale_and_bias(made[k], 1, bias[grp.outputs[k]]);
    secs[1] += t.seconds();
    for (std::size_t k = 0; k < made.size(); ++k) {
      for (std::size_t s = 2; s < segment_end_; ++s) {
        t.reset();
        run_unary(s, made[k]);
        secs[s] += t.seconds();
      }
      // A copy holds only the live rows: the square's buffer (3 rows at the level above) is twice
      // what the relinearised, rescaled result needs, and every first-layer output is kept until
      // the next layer runs (MNIST: 845 x 1.9 MB instead of 845 x 1 MB; the big buffer is reused).
      out[grp.outputs[k]] = ckks::Ciphertext(made[k]);
      made[k] = ckks::Ciphertext();  // its buffer goes back to this thread's cache for the next square
    }
    for (auto u : grp.inputs) inputs.release(u);
    std::lock_guard<std::mutex> lk(mu);
    for (std::size_t s = 0; s < segment_end_; ++s) stats.step_seconds[s] += secs[s];
  };
  if (fold_.empty()) {
    ThreadPool::global().parallel_for(0, groups_.size(), run_group);
    return out;
  }
  for (const auto& c : fold_) {
    ThreadPool::global().parallel_for(c.first_group, c.end_group, run_group);
    Timer t;
    fold_chunk(c, out, acc);
    stats.step_seconds[segment_end_] += t.seconds();
  }
  Timer t;
  rescale_and_bias(acc, segment_end_);
  stats.step_seconds[segment_end_] += t.seconds();
  return acc;
}

void CkksPlanEvaluator::rescale_and_bias(std::vector<ckks::Ciphertext>& outputs, std::size_t step) const {
  const auto& bias = plan_.steps[step].linear.f_bias;
  ThreadPool::global().parallel_for(0, outputs.size(), [&](std::size_t o) { rescale_and_bias(outputs[o], step, bias[o]); });
}

std::vector<ckks::Ciphertext> CkksPlanEvaluator::evaluate(const CkksSource& source, CkksStreamStats* stats_out) const {
  CkksStreamStats local;
  CkksStreamStats& stats = stats_out ? *stats_out : local;
  if (stats.step_seconds.size() != plan_.steps.size()) stats.step_seconds.assign(plan_.steps.size(), 0.0);
  Timer wall;
  auto values = stream_first(source, stats);
  for (std::size_t s = segment_end_ + (fold_.empty() ? 0 : 1); s < plan_.steps.size(); ++s) {
    const auto& st = plan_.steps[s];
    if (st.kind == OpKind::kDecrypt) break;
    Timer t;
    if (st.kind == OpKind::kLinear) {
      // The whole layer in one blocked pass (each input read from memory once), then per output
      // the rescale and the bias, as the streamed first layer does.
      const auto& l = st.linear;
      std::vector<const ckks::Ciphertext*> in(values.size());
      for (std::size_t u = 0; u < values.size(); ++u) in[u] = &values[u];
      auto next = eval_.linear_layer(in, l.f_row_start.data(), l.f_index.data(), l.f_weight.data(), std::size_t(l.n_out),
                                     weight_scale(s));
      rescale_and_bias(next, s);
      values = std::move(next);
    } else {
      ThreadPool::global().parallel_for(0, values.size(), [&](std::size_t i) { run_unary(s, values[i]); });
    }
    stats.step_seconds[s] += t.seconds();
  }
  stats.wall_seconds += wall.seconds();
  return values;
}

}  // namespace leukocrypt::nn
