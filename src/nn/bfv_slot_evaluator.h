// Server side of encrypted inference in the latency layout (public: no secret key). Each input
// ciphertext holds up to SlotLayout::cells_per_ciphertext() cells, one block of slots per cell
// (nn/slot_layout.h). A linear step runs the layout's baby-step/giant-step diagonals: the baby
// rotations of the input are transformed to the NTT domain once, multiplied slot-wise with the
// diagonals (pre-encoded in the NTT domain at construction, shared by all ciphertexts) and summed
// there; each giant sum is rotated in the NTT domain (bfv::Evaluator::rotate_rows_ntt), the
// rotated sums are added there and transformed back once; then the fold rotations and the bias.
// Squares, relinearisations and mod switches are the throughput layout's, one per ciphertext.
#pragma once

#include <functional>
#include <vector>

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/keys.h"
#include "he/bfv/plaintext.h"
#include "nn/bfv_settings.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

class BfvSlotEvaluator {
 public:
  // One context, relinearisation key and Galois key set per plaintext prime (settings order). The
  // plan must be in the latency layout for N = settings.n; throws InvalidArgument when anything
  // does not match, naming it (a missing Galois key names its rotation step).
  BfvSlotEvaluator(const Plan& plan, BfvSettings settings, std::vector<bfv::ContextPtr> contexts,
                   std::vector<bfv::RelinKeys> relin_keys, std::vector<bfv::GaloisKeys> galois_keys);

  // Called after each server step with one sample ciphertext (e.g. to measure noise).
  using SampleHook = std::function<void(std::size_t step, std::size_t prime, const bfv::Ciphertext& sample)>;

  // Runs every step between Encrypt and Decrypt on the packed ciphertexts of plaintext prime
  // `prime` (fresh, size 2, top level); returns the results at the final level. step_seconds (if
  // given, plan.steps.size() entries) accumulates the wall time of each step.
  std::vector<bfv::Ciphertext> evaluate_prime(std::size_t prime, std::vector<bfv::Ciphertext> inputs,
                                              std::vector<double>* step_seconds = nullptr,
                                              const SampleHook& hook = {}) const;

  const Plan& plan() const { return plan_; }
  const BfvSettings& settings() const { return settings_; }

 private:
  // One diagonal of one linear step for one prime: its centred lift mod every ciphertext prime
  // of the step's level, in the NTT domain (level x N words).
  struct NttDiagonal {
    std::vector<std::uint64_t> data;
  };
  void prepare_linear(std::size_t step, std::size_t prime);
  bfv::Ciphertext run_linear(std::size_t step, std::size_t prime, const bfv::Ciphertext& x) const;
  void run_unary(std::size_t step, std::size_t prime, bfv::Ciphertext& ct) const;

  const Plan& plan_;
  BfvSettings settings_;
  std::vector<bfv::ContextPtr> contexts_;
  std::vector<bfv::Evaluator> evaluators_;
  std::vector<bfv::RelinKeys> relin_keys_;
  std::vector<bfv::GaloisKeys> galois_keys_;
  std::vector<std::size_t> level_in_;                          // [step]: ciphertext level entering it
  std::vector<std::size_t> switch_level_;                      // [step]: mod-switch target, 0 = none
  std::vector<std::vector<std::vector<NttDiagonal>>> diag_;    // [step][prime][term, giant-major]
  std::vector<std::vector<bfv::Plaintext>> bias_;              // [step][prime]
};

}  // namespace leukocrypt::nn
