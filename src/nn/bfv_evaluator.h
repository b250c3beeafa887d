// Server side of encrypted inference (public: no secret key). Runs the plan's steps between
// Encrypt and Decrypt on a batch of ciphertexts with CryptoNets packing: values[j][v] encrypts
// value v of every image in the batch (image k in slot k) modulo plaintext prime j. Linear steps
// are fused scalar multiply-adds, independent (prime, value) pairs run in parallel on the thread
// pool; mod-switch steps drop to the levels in BfvSettings.
#pragma once

#include <functional>
#include <vector>

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/keys.h"
#include "nn/bfv_settings.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

struct EncryptedBatch {
  std::size_t images = 0;                             // slots in use
  std::vector<std::vector<bfv::Ciphertext>> values;   // [prime][value]
  std::size_t upload_bytes = 0;                       // serialized size as sent by the key holder
  std::size_t download_bytes() const;                 // serialized size of the current ciphertexts
  std::size_t primes() const { return values.size(); }
};

class BfvPlanEvaluator {
 public:
  // contexts and relin_keys: one per plaintext prime, in settings.plain_primes order. Throws
  // InvalidArgument when they do not match the settings or the plan.
  BfvPlanEvaluator(const Plan& plan, BfvSettings settings, std::vector<bfv::ContextPtr> contexts,
                   std::vector<bfv::RelinKeys> relin_keys);

  // Called after every server step with its index in plan.steps (e.g. to measure noise).
  using StepHook = std::function<void(std::size_t step, const EncryptedBatch&)>;

  // Runs every step after Encrypt and before Decrypt, in place. step_seconds (if given) gets
  // plan.steps.size() entries of wall time (zero for Encrypt/Decrypt).
  void evaluate(EncryptedBatch& batch, std::vector<double>* step_seconds = nullptr,
                const StepHook& hook = {}) const;

  const Plan& plan() const { return plan_; }
  const BfvSettings& settings() const { return settings_; }

 private:
  void check_batch(const EncryptedBatch& batch) const;
  void run_linear(std::size_t step, EncryptedBatch& batch) const;

  const Plan& plan_;
  BfvSettings settings_;
  std::vector<bfv::ContextPtr> contexts_;
  std::vector<bfv::Evaluator> evaluators_;
  std::vector<bfv::RelinKeys> relin_keys_;
  // Per linear step and prime: biases reduced to centred residues mod t_j.
  std::vector<std::vector<std::vector<std::int64_t>>> bias_mod_;  // [step][prime][out]
  std::vector<std::size_t> switch_level_;                         // [step]: target level, 0 = none
};

}  // namespace leukocrypt::nn
