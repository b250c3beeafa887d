// The latency layout's step loop, shared by the BFV and CKKS slot evaluators: every server step of
// the plan over the request's ciphertexts, timed per step, with a sample after each step.
// Element-wise steps run across the ciphertexts. A linear step runs its own rotations and diagonal
// sums in parallel, which leaves serial parts (the hoisting decomposition, the inverse transform,
// fold rotations, the bias) and uneven baby/giant splits; when the request has enough ciphertexts
// to keep every worker busy it runs across the ciphertexts instead (each linear step then serial
// inside: ThreadPool runs nested loops inline). The results are the same either way;
// LEUKOCRYPT_ACROSS=off keeps every linear step inside one ciphertext (for A/B measurements).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/env.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/kernels/eltwise.h"
#include "he/rlwe/keys.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

// Puts a slot evaluator's Galois keys in evaluation form (rlwe/keys.h: hoisted rotations permute 2
// rows per prime instead of every digit) unless they are already, or LEUKOCRYPT_PERMUTED_KEYS=off
// keeps them as they came (A/B measurements). Shared by the BFV and CKKS slot evaluators.
inline void to_evaluation_form(rlwe::GaloisKeys& keys, const std::uint32_t* bitrev) {
  if (!keys.permuted() && !env_off("LEUKOCRYPT_PERMUTED_KEYS")) keys.permute_for_evaluation(bitrev);
}

// True when `cts` linear evaluations over `threads` workers keep them >= 85 % busy (whole rounds:
// 2, 4, 6, 7, 8, ... ciphertexts on 2 workers; not 1, 3 or 5).
inline bool linear_across_ciphertexts(std::size_t cts, std::size_t threads) {
  static const bool off = env_off("LEUKOCRYPT_ACROSS");
  if (off || threads <= 1 || cts < threads) return false;
  const std::size_t rounds = (cts + threads - 1) / threads;
  return cts * 100 >= rounds * threads * 85;
}

// A giant step's sum, in the NTT domain where slot-wise products are coefficient-wise:
// acc = sum over `terms` of baby[term.baby] (.) diag_row(d, i), for both components and the primes
// i < level. The first product initialises acc (its contents on entry do not matter, so callers
// pass an uninitialised ciphertext); no terms leave it 0. Shared by the BFV and CKKS slot
// evaluators; diag_row(d, i) is term d's diagonal mod prime i, modulus(i) that prime.
template <class Ct, class Terms, class DiagRow, class ModulusOf>
void sum_diagonal_products(Ct& acc, const Terms& terms, const std::vector<Ct>& baby, std::size_t level,
                           std::size_t n, DiagRow&& diag_row, ModulusOf&& modulus) {
  if (terms.empty()) std::fill(acc.data(0, 0), acc.data(0, 0) + acc.raw_size(), 0);
  for (std::size_t d = 0; d < terms.size(); ++d)
    for (std::size_t k = 0; k < 2; ++k)
      for (std::size_t i = 0; i < level; ++i) {
        const std::uint64_t* b = baby[terms[d].baby].data(k, i);
        if (d == 0) he::eltwise_mul_mod(acc.data(k, i), b, diag_row(d, i), n, modulus(i));
        else he::eltwise_mul_add_mod(acc.data(k, i), b, diag_row(d, i), n, modulus(i));
      }
}

// linear(step, ct) returns the step's output; unary(step, ct) works in place; after(step, first)
// sees the first ciphertext after each step (skipped when there are none).
template <class Ct, class Linear, class Unary, class After>
void run_slot_steps(const Plan& plan, std::vector<Ct>& cts, std::vector<double>* step_seconds, Linear&& linear,
                    Unary&& unary, After&& after) {
  if (step_seconds) step_seconds->resize(plan.steps.size(), 0.0);
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    const auto kind = plan.steps[s].kind;
    if (kind == OpKind::kEncrypt || kind == OpKind::kDecrypt) continue;
    Timer t;
    if (kind == OpKind::kLinear && linear_across_ciphertexts(cts.size(), ThreadPool::global().size())) {
      ThreadPool::global().parallel_for(0, cts.size(), [&](std::size_t c) { cts[c] = linear(s, cts[c]); });
    } else if (kind == OpKind::kLinear) {
      for (auto& ct : cts) ct = linear(s, ct);
    } else {
      ThreadPool::global().parallel_for(0, cts.size(), [&](std::size_t c) { unary(s, cts[c]); });
    }
    if (step_seconds) (*step_seconds)[s] += t.seconds();
    if (!cts.empty()) after(s, cts[0]);
  }
}

}  // namespace leukocrypt::nn
