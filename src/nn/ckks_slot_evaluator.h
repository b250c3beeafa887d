// Server side of CKKS encrypted inference in the latency layout (public: no secret key). Each input
// ciphertext holds up to SlotLayout::cells_per_ciphertext() cells (N/2 complex slots in one row,
// one block per cell; nn/slot_layout.h, SlotScheme::kCkks), float weights. A linear step runs the
// layout's baby-step/giant-step diagonals: the baby rotations of the input (hoisted: one
// decomposition of the input for all of them), each multiplied
// slot-wise by its diagonals (pre-encoded at the step's level with scale = the level's last prime,
// so that one rescale brings the scale back exactly) and summed per giant step; each giant sum is
// rotated, the sums added, the fold rotations applied, then one rescale and the bias (encoded at
// the exact scale the ciphertext has there). Rotations all happen before the rescale, so their
// key-switch noise is divided by the dropped prime. Squares: square_relin + rescale, as in the
// throughput layout (Relinearize and ModSwitch steps are then no-ops). With a scale schedule
// (CkksStepScale, the wide chain of circuit privacy) a linear step's diagonals are encoded at 2^k
// or at its rescale prime and every step rescales as many primes as the schedule says.
#pragma once

#include <functional>
#include <vector>

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/keys.h"
#include "he/ckks/plaintext.h"
#include "nn/ckks_settings.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

class CkksSlotEvaluator {
 public:
  // The plan must be in the latency layout for CKKS slots (to_latency(plan, N, SlotScheme::kCkks))
  // at the context's N; throws InvalidArgument naming what does not match (a missing Galois key
  // names its rotation step; too few primes names the rescales needed).
  CkksSlotEvaluator(const Plan& plan, ckks::ContextPtr ctx, ckks::RelinKeys relin_keys, ckks::GaloisKeys galois_keys,
                    CkksSchedule schedule = {});

  // Every step between Encrypt and Decrypt on the packed ciphertexts (fresh, size 2, top level,
  // default scale); returns the results at the last level. step_seconds (if given, one entry per
  // plan step) accumulates each step's wall time.
  // Called after each server step with the first ciphertext (e.g. to measure the error per step).
  using SampleHook = std::function<void(std::size_t step, const ckks::Ciphertext& sample)>;
  std::vector<ckks::Ciphertext> evaluate(std::vector<ckks::Ciphertext> inputs, std::vector<double>* step_seconds = nullptr,
                                         const SampleHook& hook = {}) const;

  const Plan& plan() const { return plan_; }
  const ckks::ContextPtr& context() const { return ctx_; }

 private:
  void prepare_linear(std::size_t step);
  ckks::Ciphertext run_linear(std::size_t step, const ckks::Ciphertext& x) const;
  void run_unary(std::size_t step, ckks::Ciphertext& ct) const;
  // The diagonals' scale of linear step s entering at `level`: 2^weight_bits, or its last prime.
  double diagonal_scale(std::size_t s, std::size_t level) const;

  const Plan& plan_;
  ckks::ContextPtr ctx_;
  ckks::Evaluator eval_;
  ckks::RelinKeys relin_keys_;
  ckks::GaloisKeys galois_keys_;
  CkksSchedule schedule_;
  std::vector<std::size_t> level_in_;               // [step]: ciphertext level entering it
  std::vector<double> scale_in_;                    // [step]: exact scale entering it
  std::vector<std::vector<ckks::Plaintext>> diag_;  // [step][term, giant-major]
  std::vector<ckks::Plaintext> bias_;               // [step]: after the rescale
};

}  // namespace leukocrypt::nn
