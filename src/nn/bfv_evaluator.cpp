// Server-side plan execution on BFV ciphertexts.
#include "nn/bfv_evaluator.h"

#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/serialization.h"
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

void BfvPlanEvaluator::run_linear(std::size_t s, EncryptedBatch& batch) const {
  const auto& l = plan_.steps[s].linear;
  const std::size_t k = batch.primes(), n_out = std::size_t(l.n_out);
  std::vector<std::vector<bfv::Ciphertext>> out(k, std::vector<bfv::Ciphertext>(n_out));
  ThreadPool::global().parallel_for(0, k * n_out, [&](std::size_t idx) {
    const std::size_t j = idx / n_out, o = idx % n_out;
    const auto& ev = evaluators_[j];
    const auto& in = batch.values[j];
    bfv::Ciphertext acc;
    for (auto tap = l.row_start[o]; tap < l.row_start[o + 1]; ++tap)
      ev.multiply_scalar_add_inplace(acc, in[l.index[tap]], l.weight[tap]);
    if (acc.empty()) acc = ev.multiply_scalar(in[0], 0);  // no taps: the bias alone
    ev.add_scalar_inplace(acc, bias_mod_[s][j][o]);
    out[j][o] = std::move(acc);
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
