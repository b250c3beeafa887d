// The latency layout's step loop, shared by the BFV and CKKS slot evaluators: every server step of
// the plan over the request's ciphertexts (linear steps one ciphertext at a time, since they run
// their own rotations in parallel; element-wise steps across the ciphertexts), timed per step,
// with a sample after each step.
#pragma once

#include <cstddef>
#include <vector>

#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

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
    if (kind == OpKind::kLinear) {
      for (auto& ct : cts) ct = linear(s, ct);
    } else {
      ThreadPool::global().parallel_for(0, cts.size(), [&](std::size_t c) { unary(s, cts[c]); });
    }
    if (step_seconds) (*step_seconds)[s] += t.seconds();
    if (!cts.empty()) after(s, cts[0]);
  }
}

}  // namespace leukocrypt::nn
