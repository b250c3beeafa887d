// Latency-layout server: baby-step/giant-step diagonals in the NTT domain, rotations, fold, bias.
#include "nn/bfv_slot_evaluator.h"

#include <algorithm>
#include <atomic>
#include <optional>

#include "common/env.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "he/bfv/batch_encoder.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "nn/crt.h"
#include "nn/slot_steps.h"

namespace leukocrypt::nn {
namespace {

// Slot values mod t of a signed block pattern tiled over N slots.
std::vector<std::uint64_t> residues(const std::vector<std::int64_t>& pattern, std::size_t n, std::uint64_t t) {
  std::vector<std::uint64_t> v(n);
  for (std::size_t s = 0; s < n; ++s) v[s] = Crt::reduce(Int128(pattern[s % pattern.size()]), t);
  return v;
}

}  // namespace

BfvSlotEvaluator::BfvSlotEvaluator(const Plan& plan, BfvSettings settings, std::vector<bfv::ContextPtr> contexts,
                                   std::vector<bfv::RelinKeys> relin_keys, std::vector<bfv::GaloisKeys> galois_keys)
    : plan_(plan), settings_(std::move(settings)), contexts_(std::move(contexts)), relin_keys_(std::move(relin_keys)),
      galois_keys_(std::move(galois_keys)) {
  settings_.validate();
  require(plan_.layout == Layout::kLatency && plan_.slots.n == settings_.n,
          "BfvSlotEvaluator: the plan is not in the latency layout for N = " + std::to_string(settings_.n));
  const std::size_t k = settings_.plain_primes.size();
  require(contexts_.size() == k && relin_keys_.size() == k && galois_keys_.size() == k,
          "BfvSlotEvaluator: " + std::to_string(contexts_.size()) + " contexts, " + std::to_string(relin_keys_.size()) +
              " relinearisation keys and " + std::to_string(galois_keys_.size()) + " Galois key sets for " +
              std::to_string(k) + " plaintext primes");
  const auto steps = plan_.slots.rotation_steps();
  for (std::size_t j = 0; j < k; ++j) {
    require(contexts_[j] && contexts_[j]->params().t() == settings_.plain_primes[j] && contexts_[j]->n() == settings_.n,
            "BfvSlotEvaluator: context " + std::to_string(j) + " does not match the settings (N, t)");
    require(relin_keys_[j].params_id() == contexts_[j]->params_id(),
            "BfvSlotEvaluator: relinearisation key " + std::to_string(j) + " is for other parameters");
    require(galois_keys_[j].params_id() == contexts_[j]->params_id(),
            "BfvSlotEvaluator: Galois keys " + std::to_string(j) + " are for other parameters");
    for (int r : steps)
      require(galois_keys_[j].has(bfv::galois_elt_for_step(r, settings_.n)),
              "BfvSlotEvaluator: missing Galois key for rotation step " + std::to_string(r) + " (plaintext prime " +
                  std::to_string(j) + "); the latency layout needs " + std::to_string(steps.size()) + " steps");
    evaluators_.emplace_back(contexts_[j]);
    to_evaluation_form(galois_keys_[j], contexts_[j]->bitrev());
  }
  // Levels along the plan (the same for every prime: same q).
  const std::size_t top = contexts_[0]->max_level();
  level_in_.assign(plan_.steps.size(), top);
  switch_level_.assign(plan_.steps.size(), 0);
  std::size_t level = top, ms = 0;
  for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
    level_in_[s] = level;
    if (plan_.steps[s].kind != OpKind::kModSwitch) continue;
    switch_level_[s] = ms < settings_.mod_switch_levels.size() ? settings_.mod_switch_levels[ms] : 0;
    ++ms;
    if (switch_level_[s] != 0 && switch_level_[s] < level) level = switch_level_[s];
  }
  diag_.resize(plan_.steps.size());
  bias_.resize(plan_.steps.size());
  for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
    if (plan_.steps[s].kind != OpKind::kLinear) continue;
    diag_[s].resize(k);
    bias_[s].resize(k);
    for (std::size_t j = 0; j < k; ++j) prepare_linear(s, j);
  }
}

void BfvSlotEvaluator::prepare_linear(std::size_t s, std::size_t j) {
  const SlotLinear& l = plan_.slots.linear[s];
  const auto& ctx = *contexts_[j];
  const std::size_t n = settings_.n, level = level_in_[s];
  const std::uint64_t t = settings_.plain_primes[j];
  bfv::BatchEncoder enc(contexts_[j]);
  std::vector<const std::vector<std::int64_t>*> terms;
  for (const auto& g : l.giants)
    for (const auto& term : g.terms) terms.push_back(&term.diag);
  diag_[s][j].resize(terms.size());
  ThreadPool::global().parallel_for(0, terms.size(), [&](std::size_t d) {
    const bfv::Plaintext pt = enc.encode(residues(*terms[d], n, t));
    auto& out = diag_[s][j][d].data;
    out.resize(level * n);
    for (std::size_t i = 0; i < level; ++i) {
      const auto& q = ctx.modulus(i);
      const std::uint64_t t_mod = q.reduce(t);
      std::uint64_t* row = out.data() + i * n;
      // Centred lift (|m| <= t/2): the noise grows by N * t/2 at most, as in multiply_plain.
      for (std::size_t c = 0; c < n; ++c)
        row[c] = pt[c] > t / 2 ? he::sub_mod(q.reduce(pt[c]), t_mod, q.value()) : q.reduce(pt[c]);
      he::forward_ntt(row, ctx.ntt(i));
    }
  });
  std::vector<std::uint64_t> slots(n, 0);
  for (std::size_t b0 = 0; b0 < n; b0 += plan_.slots.block)
    for (const auto& [slot, b] : l.bias) slots[b0 + slot] = Crt::reduce(b, t);
  bias_[s][j] = enc.encode(slots);
}

bfv::Ciphertext BfvSlotEvaluator::run_linear(std::size_t s, std::size_t j, const bfv::Ciphertext& x) const {
  const SlotLinear& l = plan_.slots.linear[s];
  const auto& ctx = *contexts_[j];
  const auto& ev = evaluators_[j];
  const auto& gk = galois_keys_[j];
  const std::size_t n = settings_.n, level = x.level();
  require(level == level_in_[s] && x.size() == 2, "latency layout: ciphertext at level " + std::to_string(level) +
                                                      " size " + std::to_string(x.size()) + " entering step " +
                                                      plan_.steps[s].name);
  // Baby steps: rotations of the input, in the NTT domain, hoisted (one decomposition of x).
  bfv::Ciphertext x_ntt = x;
  ev.to_ntt_inplace(x_ntt);
  const bool any_rotation = std::any_of(l.baby.begin(), l.baby.end(), [](int r) { return r != 0; });
  std::optional<rlwe::HoistedDigits> digits;
  if (any_rotation) digits.emplace(ev.hoist(x));
  std::vector<bfv::Ciphertext> baby(l.baby.size());
  ThreadPool::global().parallel_for(0, l.baby.size(), [&](std::size_t b) {
    baby[b] = l.baby[b] == 0 ? x_ntt : ev.rotate_rows_hoisted_ntt(x_ntt, *digits, l.baby[b], gk);
  });
  std::vector<std::size_t> first(l.giants.size() + 1, 0);
  for (std::size_t g = 0; g < l.giants.size(); ++g) first[g + 1] = first[g] + l.giants[g].terms.size();
  auto giant_sum = [&](std::size_t g, bfv::Ciphertext& acc) {
    sum_diagonal_products(
        acc, l.giants[g].terms, baby, level, n,
        [&](std::size_t d, std::size_t i) { return diag_[s][j][first[g] + d].data.data() + i * n; },
        [&](std::size_t i) -> const he::Modulus& { return ctx.modulus(i); });
  };
  static const bool moddown_sum = !env_off("LEUKOCRYPT_MODDOWN_SUM");
  bfv::Ciphertext y;
  if (moddown_sum) {
    // Giant steps: each sum of diagonal x baby products is rotated and added up in the NTT domain,
    // the rotations' key switches summed before their division by p (rlwe::KeySwitchSum): one
    // division per linear step instead of one per giant step. One partial sum per worker, each worker
    // taking the next giant as it frees up. LEUKOCRYPT_MODDOWN_SUM=off: one rotate_rows_ntt per giant.
    const std::size_t parts = std::max<std::size_t>(1, std::min(l.giants.size(), ThreadPool::global().size()));
    std::vector<bfv::Ciphertext> part(parts);
    std::vector<rlwe::KeySwitchSum> ks(parts, rlwe::KeySwitchSum(ctx, level));
    std::atomic<std::size_t> next_giant{0};
    ThreadPool::global().parallel_for(0, parts, [&](std::size_t p) {
      part[p] = bfv::Ciphertext(x.params_id(), n, level, 2);
      bfv::Ciphertext acc(x.params_id(), n, level, 2, bfv::Ciphertext::Uninitialized{});
      for (std::size_t g = next_giant++; g < l.giants.size(); g = next_giant++) {
        giant_sum(g, acc);
        if (l.giants[g].step == 0) ev.add_inplace(part[p], acc);
        else ev.add_rotation_ntt(acc, l.giants[g].step, gk, part[p], ks[p]);
      }
    });
    y = std::move(part[0]);
    for (std::size_t p = 1; p < parts; ++p) {
      ev.add_inplace(y, part[p]);
      ks[0].add(ctx, ks[p]);
    }
    ev.finish_rotation_sum(y, ks[0]);
  } else {
    std::vector<bfv::Ciphertext> giant(l.giants.size());
    ThreadPool::global().parallel_for(0, l.giants.size(), [&](std::size_t g) {
      bfv::Ciphertext acc(x.params_id(), n, level, 2, bfv::Ciphertext::Uninitialized{});
      giant_sum(g, acc);
      giant[g] = l.giants[g].step == 0 ? std::move(acc) : ev.rotate_rows_ntt(acc, l.giants[g].step, gk);
    });
    y = std::move(giant[0]);
    for (std::size_t g = 1; g < giant.size(); ++g) ev.add_inplace(y, giant[g]);
  }
  // The giant sums stay in the NTT domain (addition is the same there): one inverse transform.
  ev.from_ntt_inplace(y);
  for (int f : l.fold) ev.add_inplace(y, ev.rotate_rows(y, f, gk));
  ev.add_plain_inplace(y, bias_[s][j]);
  return y;
}

void BfvSlotEvaluator::run_unary(std::size_t s, std::size_t j, bfv::Ciphertext& ct) const {
  switch (plan_.steps[s].kind) {
    case OpKind::kSquare: ct = evaluators_[j].square(ct); break;
    case OpKind::kRelinearize: evaluators_[j].relinearize_inplace(ct, relin_keys_[j]); break;
    case OpKind::kModSwitch:
      if (switch_level_[s] != 0 && ct.level() > switch_level_[s]) evaluators_[j].mod_switch_to_inplace(ct, switch_level_[s]);
      break;
    default: break;
  }
}

std::vector<bfv::Ciphertext> BfvSlotEvaluator::evaluate_prime(std::size_t j, std::vector<bfv::Ciphertext> cts,
                                                              std::vector<double>* step_seconds,
                                                              const SampleHook& hook) const {
  require(j < contexts_.size(), "evaluate_prime: plaintext prime " + std::to_string(j) + " of " +
                                    std::to_string(contexts_.size()));
  for (std::size_t c = 0; c < cts.size(); ++c)
    require(cts[c].params_id() == contexts_[j]->params_id() && cts[c].size() == 2 &&
                cts[c].level() == contexts_[j]->max_level(),
            "latency layout: input ciphertext " + std::to_string(c) + " is not a fresh ciphertext of plaintext prime " +
                std::to_string(j));
  run_slot_steps(
      plan_, cts, step_seconds, [&](std::size_t s, const bfv::Ciphertext& ct) { return run_linear(s, j, ct); },
      [&](std::size_t s, bfv::Ciphertext& ct) { run_unary(s, j, ct); },
      [&](std::size_t s, const bfv::Ciphertext& first) {
        if (hook) hook(s, j, first);
      });
  return cts;
}

}  // namespace leukocrypt::nn
