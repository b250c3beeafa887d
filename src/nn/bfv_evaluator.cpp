// Server-side plan execution on BFV ciphertexts.
#include "nn/bfv_evaluator.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/serialization.h"
#include "he/kernels/eltwise.h"
#include "he/math/modulus.h"
#include "nn/crt.h"

namespace leukocrypt::nn {

std::size_t EncryptedBatch::download_bytes() const {
  std::size_t total = 0;
  for (const auto& v : values)
    if (!v.empty()) total += bfv::save(v[0]).size() * v.size();  // same level and size throughout
  return total;
}

BfvPlanEvaluator::BfvPlanEvaluator(const Plan& plan, BfvSettings settings, std::vector<bfv::ContextPtr> contexts,
                                   std::vector<bfv::RelinKeys> relin_keys)
    : plan_(plan), settings_(std::move(settings)), contexts_(std::move(contexts)), relin_keys_(std::move(relin_keys)) {
  settings_.validate();
  const std::size_t k = settings_.plain_primes.size();
  require(contexts_.size() == k, "BfvPlanEvaluator: " + std::to_string(contexts_.size()) + " contexts for " +
                                     std::to_string(k) + " plaintext primes");
  require(relin_keys_.size() == k, "BfvPlanEvaluator: " + std::to_string(relin_keys_.size()) +
                                       " relinearisation keys for " + std::to_string(k) + " plaintext primes");
  for (std::size_t j = 0; j < k; ++j) {
    require(contexts_[j] && contexts_[j]->params().t() == settings_.plain_primes[j] &&
                contexts_[j]->n() == settings_.n,
            "BfvPlanEvaluator: context " + std::to_string(j) + " does not match the settings (N, t)");
    require(relin_keys_[j].params_id() == contexts_[j]->params_id(),
            "BfvPlanEvaluator: relinearisation key " + std::to_string(j) + " is for other parameters");
    evaluators_.emplace_back(contexts_[j]);
  }
  bias_mod_.resize(plan_.steps.size());
  switch_level_.assign(plan_.steps.size(), 0);
  std::size_t ms = 0;
  for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
    const auto& st = plan_.steps[s];
    if (st.kind == OpKind::kLinear) {
      bias_mod_[s].resize(k);
      for (std::size_t j = 0; j < k; ++j) {
        const auto t = settings_.plain_primes[j];
        for (auto b : st.linear.bias) {
          std::uint64_t r = Crt::reduce(b, t);
          bias_mod_[s][j].push_back(r > t / 2 ? -std::int64_t(t - r) : std::int64_t(r));
        }
      }
    } else if (st.kind == OpKind::kModSwitch) {
      switch_level_[s] = ms < settings_.mod_switch_levels.size() ? settings_.mod_switch_levels[ms] : 0;
      ++ms;
    }
  }
}

void BfvPlanEvaluator::check_batch(const EncryptedBatch& batch) const {
  require(batch.primes() == contexts_.size(), "encrypted batch has " + std::to_string(batch.primes()) +
                                                  " plaintext primes, expected " + std::to_string(contexts_.size()));
  require(batch.images >= 1 && batch.images <= settings_.n,
          "encrypted batch holds " + std::to_string(batch.images) + " images; must be 1.." + std::to_string(settings_.n));
  for (std::size_t j = 0; j < batch.primes(); ++j) {
    require(batch.values[j].size() == plan_.input_size(),
            "encrypted batch has " + std::to_string(batch.values[j].size()) + " ciphertexts for prime " +
                std::to_string(j) + ", the model takes " + std::to_string(plan_.input_size()));
    for (const auto& ct : batch.values[j])
      require(ct.params_id() == contexts_[j]->params_id() && ct.size() == 2,
              "encrypted batch: a ciphertext for prime " + std::to_string(j) + " has other parameters or size");
  }
}

namespace {

// Centred representative of w mod t (|w| < t/2 for every quantised weight, but be exact anyway),
// then its residue mod q: the same scalar the Evaluator's multiply_scalar_add_inplace uses.
std::uint64_t weight_mod_q(std::int64_t w, std::uint64_t t, std::uint64_t q) {
  const Int128 tt = Int128(t);
  Int128 r = Int128(w) % tt;
  if (r < 0) r += tt;
  if (r > tt / 2) r -= tt;
  Int128 m = r % Int128(q);
  if (m < 0) m += q;
  return std::uint64_t(m);
}

// Outputs are computed in groups of kGroup that share one pass over their inputs: for every block
// of kBlock coefficients, each input block is read once and folded into every accumulator of the
// group that uses it (G x 2 KiB accumulators stay in L1/L2). Without grouping, a dense layer
// re-reads every input ciphertext once per output and is memory-bound.
constexpr std::size_t kBlock = 256;
constexpr std::size_t kGroup = 16;

struct GroupTaps {
  std::vector<std::uint32_t> inputs;      // distinct inputs used by the group, ascending
  std::vector<std::uint32_t> entry_start; // per input: range into entries
  std::vector<std::pair<std::uint32_t, std::uint32_t>> entries;  // (output in group, tap index)
};

GroupTaps group_taps(const LinearOp& l, std::size_t o0, std::size_t o1) {
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> all;  // (input, g, tap)
  for (std::size_t o = o0; o < o1; ++o)
    for (auto tap = l.row_start[o]; tap < l.row_start[o + 1]; ++tap)
      all.emplace_back(l.index[tap], std::uint32_t(o - o0), tap);
  std::sort(all.begin(), all.end());
  GroupTaps g;
  for (std::size_t k = 0; k < all.size(); ++k) {
    if (k == 0 || std::get<0>(all[k]) != std::get<0>(all[k - 1])) {
      g.inputs.push_back(std::get<0>(all[k]));
      g.entry_start.push_back(std::uint32_t(g.entries.size()));
    }
    g.entries.emplace_back(std::get<1>(all[k]), std::get<2>(all[k]));
  }
  g.entry_start.push_back(std::uint32_t(g.entries.size()));
  return g;
}

}  // namespace

void BfvPlanEvaluator::run_linear(std::size_t s, EncryptedBatch& batch) const {
  const auto& l = plan_.steps[s].linear;
  const std::size_t k = batch.primes(), n_out = std::size_t(l.n_out);
  const std::size_t level = batch.values[0][0].level();
  for (std::size_t j = 0; j < k; ++j)
    for (const auto& ct : batch.values[j])
      require(ct.level() == level && ct.size() == 2, "linear step: inputs at different levels or sizes");
  // Shoup operands of every tap for every prime present: [plain prime][tap * level + i].
  std::vector<std::vector<he::ShoupOperand>> shoup(k);
  ThreadPool::global().parallel_for(0, k, [&](std::size_t j) {
    const auto& ctx = *contexts_[j];
    shoup[j].resize(l.weight.size() * level);
    for (std::size_t tap = 0; tap < l.weight.size(); ++tap)
      for (std::size_t i = 0; i < level; ++i) {
        const std::uint64_t q = ctx.modulus(i).value();
        shoup[j][tap * level + i] = he::make_shoup(weight_mod_q(l.weight[tap], settings_.plain_primes[j], q), q);
      }
  });
  const std::size_t groups = (n_out + kGroup - 1) / kGroup;
  std::vector<GroupTaps> gt(groups);
  ThreadPool::global().parallel_for(0, groups, [&](std::size_t g) {
    gt[g] = group_taps(l, g * kGroup, std::min(n_out, (g + 1) * kGroup));
  });
  const std::size_t n = settings_.n;
  std::vector<std::vector<bfv::Ciphertext>> out(k, std::vector<bfv::Ciphertext>(n_out));
  ThreadPool::global().parallel_for(0, k * groups, [&](std::size_t idx) {
    const std::size_t j = idx / groups, g = idx % groups;
    const std::size_t o0 = g * kGroup, o1 = std::min(n_out, o0 + kGroup);
    const auto& ctx = *contexts_[j];
    const auto& in = batch.values[j];
    const auto& taps = gt[g];
    std::vector<bfv::Ciphertext> acc;
    acc.reserve(o1 - o0);
    for (std::size_t o = o0; o < o1; ++o) acc.emplace_back(ctx.params_id(), n, level, 2);  // zero: noiseless 0
    for (std::size_t i = 0; i < level; ++i) {
      const he::Modulus& q = ctx.modulus(i);
      for (std::size_t poly = 0; poly < 2; ++poly)
        for (std::size_t c0 = 0; c0 < n; c0 += kBlock) {
          const std::size_t len = std::min(kBlock, n - c0);
          for (std::size_t u = 0; u < taps.inputs.size(); ++u) {
            const std::uint64_t* x = in[taps.inputs[u]].data(poly, i) + c0;
            for (auto e = taps.entry_start[u]; e < taps.entry_start[u + 1]; ++e) {
              const auto [go, tap] = taps.entries[e];
              he::eltwise_fma_scalar_mod(acc[go].data(poly, i) + c0, x, shoup[j][std::size_t(tap) * level + i], len, q);
            }
          }
        }
    }
    for (std::size_t o = o0; o < o1; ++o) {
      evaluators_[j].add_scalar_inplace(acc[o - o0], bias_mod_[s][j][o]);
      out[j][o] = std::move(acc[o - o0]);
    }
  });
  batch.values = std::move(out);
}

void BfvPlanEvaluator::evaluate(EncryptedBatch& batch, std::vector<double>* step_seconds, const StepHook& hook) const {
  check_batch(batch);
  if (step_seconds) step_seconds->assign(plan_.steps.size(), 0.0);
  for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
    const auto& st = plan_.steps[s];
    if (st.kind == OpKind::kEncrypt || st.kind == OpKind::kDecrypt) continue;
    Timer t;
    const std::size_t k = batch.primes(), n = batch.values[0].size();
    switch (st.kind) {
      case OpKind::kLinear:
        run_linear(s, batch);
        break;
      case OpKind::kSquare:
        ThreadPool::global().parallel_for(0, k * n, [&](std::size_t idx) {
          auto& ct = batch.values[idx / n][idx % n];
          ct = evaluators_[idx / n].square(ct);
        });
        break;
      case OpKind::kRelinearize:
        ThreadPool::global().parallel_for(0, k * n, [&](std::size_t idx) {
          evaluators_[idx / n].relinearize_inplace(batch.values[idx / n][idx % n], relin_keys_[idx / n]);
        });
        break;
      case OpKind::kModSwitch: {
        const std::size_t target = switch_level_[s];
        if (target == 0) break;
        ThreadPool::global().parallel_for(0, k * n, [&](std::size_t idx) {
          auto& ct = batch.values[idx / n][idx % n];
          if (ct.level() > target) evaluators_[idx / n].mod_switch_to_inplace(ct, target);
        });
        break;
      }
      default:
        break;
    }
    if (step_seconds) (*step_seconds)[s] = t.seconds();
    if (hook) hook(s, batch);
  }
}

}  // namespace leukocrypt::nn
