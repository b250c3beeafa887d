// Latency-layout CKKS server: baby-step/giant-step diagonals, rotations, fold, rescale, bias.
#include "nn/ckks_slot_evaluator.h"

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "common/thread_pool.h"
#include "he/ckks/encoder.h"
#include "he/kernels/eltwise.h"
#include "nn/ckks_settings.h"
#include "nn/slot_steps.h"

namespace leukocrypt::nn {

CkksSlotEvaluator::CkksSlotEvaluator(const Plan& plan, ckks::ContextPtr ctx, ckks::RelinKeys relin_keys,
                                     ckks::GaloisKeys galois_keys, CkksSchedule schedule)
    : plan_(plan), ctx_(std::move(ctx)), eval_(ctx_), relin_keys_(std::move(relin_keys)),
      galois_keys_(std::move(galois_keys)), schedule_(std::move(schedule)) {
  const auto& p = ctx_->params();
  require(plan_.layout == Layout::kLatency && plan_.slots.scheme() == SlotScheme::kCkks && plan_.slots.n == p.n(),
          "CkksSlotEvaluator: the plan is not in the CKKS latency layout for N = " + std::to_string(p.n()));
  const std::size_t need = ckks_rescales(plan_, schedule_) + 1;
  require(p.max_level() >= need, "CkksSlotEvaluator: the plan needs " + std::to_string(need) +
                                     " ciphertext primes (its rescales plus q_0); the parameters have " +
                                     std::to_string(p.max_level()));
  require(relin_keys_.params_id() == p.id(), "CkksSlotEvaluator: relinearisation key is for other parameters");
  require(galois_keys_.params_id() == p.id(), "CkksSlotEvaluator: Galois keys are for other parameters");
  const auto steps = plan_.slots.rotation_steps();
  for (int r : steps)
    require(galois_keys_.has(ckks::galois_elt_for_rotation(r, p.n())),
            "CkksSlotEvaluator: missing Galois key for rotation step " + std::to_string(r) +
                "; the latency layout needs " + std::to_string(steps.size()) + " steps");
  to_evaluation_form(galois_keys_, ctx_->bitrev());
  // Levels and exact scales along the plan, computed as the evaluator computes them.
  level_in_.assign(plan_.steps.size(), p.max_level());
  scale_in_.assign(plan_.steps.size(), p.default_scale());
  std::size_t level = p.max_level();
  double scale = p.default_scale();
  for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
    level_in_[s] = level;
    scale_in_[s] = scale;
    if (plan_.steps[s].kind == OpKind::kLinear) scale *= diagonal_scale(s, level);
    else if (plan_.steps[s].kind == OpKind::kSquare) scale *= scale;
    else continue;
    for (int r = 0; r < step_scale(schedule_, plan_, s).rescales; ++r) scale /= double(ctx_->modulus(--level).value());
  }
  diag_.resize(plan_.steps.size());
  bias_.resize(plan_.steps.size());
  for (std::size_t s = 0; s < plan_.steps.size(); ++s)
    if (plan_.steps[s].kind == OpKind::kLinear) prepare_linear(s);
}

void CkksSlotEvaluator::prepare_linear(std::size_t s) {
  const SlotLinear& l = plan_.slots.linear[s];
  const SlotLayout& sl = plan_.slots;
  const std::size_t level = level_in_[s];
  const double q_last = diagonal_scale(s, level);
  const ckks::Encoder enc(ctx_);
  std::vector<const std::vector<double>*> terms;
  for (const auto& g : l.giants)
    for (const auto& term : g.terms) terms.push_back(&term.fdiag);
  for (const auto* t : terms)
    require(t->size() == sl.block, "CkksSlotEvaluator: step " + plan_.steps[s].name + " has no float diagonals "
                                   "(a BFV latency plan?)");
  diag_[s].resize(terms.size());
  ThreadPool::global().parallel_for(0, terms.size(), [&](std::size_t d) {
    diag_[s][d] = enc.encode(tile_block(*terms[d], sl.slot_count()), q_last, level);
  });
  // The scale after the products (scale x the diagonals' scale) and the rescales, as the evaluator has it.
  double after = scale_in_[s] * q_last;
  std::size_t out_level = level;
  for (int r = 0; r < step_scale(schedule_, plan_, s).rescales; ++r) after /= double(ctx_->modulus(--out_level).value());
  std::vector<double> bias(sl.slot_count(), 0.0);
  for (std::size_t b0 = 0; b0 < bias.size(); b0 += sl.block)
    for (const auto& [slot, b] : l.fbias) bias[b0 + slot] = b;
  bias_[s] = enc.encode(bias, after, out_level);
}

ckks::Ciphertext CkksSlotEvaluator::run_linear(std::size_t s, const ckks::Ciphertext& x) const {
  const SlotLinear& l = plan_.slots.linear[s];
  const std::size_t n = x.n(), level = x.level();
  require(level == level_in_[s] && x.size() == 2, "latency layout: ciphertext at level " + std::to_string(level) +
                                                      " size " + std::to_string(x.size()) + " entering step " +
                                                      plan_.steps[s].name);
  // Baby steps: rotations of the input, hoisted (one decomposition of x's c1 for all of them).
  std::optional<rlwe::HoistedDigits> digits;
  if (std::any_of(l.baby.begin(), l.baby.end(), [](int r) { return r != 0; })) digits.emplace(eval_.hoist(x));
  std::vector<ckks::Ciphertext> baby(l.baby.size());
  ThreadPool::global().parallel_for(0, l.baby.size(), [&](std::size_t b) {
    baby[b] = l.baby[b] == 0 ? x : eval_.rotate_hoisted(x, *digits, l.baby[b], galois_keys_);
  });
  std::vector<std::size_t> first(l.giants.size() + 1, 0);
  for (std::size_t g = 0; g < l.giants.size(); ++g) first[g + 1] = first[g] + l.giants[g].terms.size();
  const double product_scale = x.scale() * diag_[s].front().scale();
  std::vector<ckks::Ciphertext> giant(l.giants.size());
  ThreadPool::global().parallel_for(0, l.giants.size(), [&](std::size_t g) {
    ckks::Ciphertext acc(x.params_id(), n, level, 2, product_scale, ckks::Ciphertext::Uninitialized{});
    sum_diagonal_products(
        acc, l.giants[g].terms, baby, level, n,
        [&](std::size_t d, std::size_t i) { return diag_[s][first[g] + d].data(i); },
        [&](std::size_t i) -> const he::Modulus& { return ctx_->modulus(i); });
    giant[g] = l.giants[g].step == 0 ? std::move(acc) : eval_.rotate(acc, l.giants[g].step, galois_keys_);
  });
  ckks::Ciphertext y = std::move(giant[0]);
  for (std::size_t g = 1; g < giant.size(); ++g) eval_.add_inplace(y, giant[g]);
  for (int f : l.fold) eval_.add_inplace(y, eval_.rotate(y, f, galois_keys_));
  for (int r = 0; r < step_scale(schedule_, plan_, s).rescales; ++r) eval_.rescale_inplace(y);
  eval_.add_plain_inplace(y, bias_[s]);
  return y;
}

double CkksSlotEvaluator::diagonal_scale(std::size_t s, std::size_t level) const {
  const double w = step_scale(schedule_, plan_, s).weight_scale();
  return w > 0 ? w : double(ctx_->modulus(level - 1).value());
}

void CkksSlotEvaluator::run_unary(std::size_t s, ckks::Ciphertext& ct) const {
  if (plan_.steps[s].kind != OpKind::kSquare) return;  // Relinearize and ModSwitch: nothing to do
  ct = eval_.square_relin(ct, relin_keys_);
  for (int r = 0; r < step_scale(schedule_, plan_, s).rescales; ++r) eval_.rescale_inplace(ct);
}

std::vector<ckks::Ciphertext> CkksSlotEvaluator::evaluate(std::vector<ckks::Ciphertext> cts,
                                                          std::vector<double>* step_seconds,
                                                          const SampleHook& hook) const {
  const auto& p = ctx_->params();
  for (std::size_t c = 0; c < cts.size(); ++c)
    require(cts[c].params_id() == p.id() && cts[c].size() == 2 && cts[c].level() == p.max_level() &&
                cts[c].scale() == p.default_scale(),
            "latency layout: input ciphertext " + std::to_string(c) +
                " is not a fresh ciphertext of these parameters at the default scale");
  run_slot_steps(
      plan_, cts, step_seconds, [&](std::size_t s, const ckks::Ciphertext& ct) { return run_linear(s, ct); },
      [&](std::size_t s, ckks::Ciphertext& ct) { run_unary(s, ct); },
      [&](std::size_t s, const ckks::Ciphertext& first) {
        if (hook) hook(s, first);
      });
  return cts;
}

}  // namespace leukocrypt::nn
