// Server side of encrypted inference (public: no secret key). Runs the plan's steps between
// Encrypt and Decrypt with CryptoNets packing: input value v of plaintext prime j is one
// ciphertext holding v of every image of the batch (image k in slot k). Linear steps are fused
// scalar multiply-adds over groups of outputs; mod-switch steps drop to the levels in BfvSettings;
// with BfvSettings::defer_relin a square's relinearisation moves after the next linear layer.
//
// Two ways to run it:
//  - evaluate(EncryptedBatch&): everything resident, step by step over all primes (a hook sees the
//    whole batch after every step, e.g. to measure noise);
//  - evaluate(primes, inputs, source) / evaluate_prime(): streaming, one plaintext prime at a time.
//    Input ciphertexts are pulled on demand from a source and dropped as soon as the last output
//    of the first linear layer that uses them is computed; the element-wise steps that follow that
//    layer (mod switch, square, relinearise) run on each output as soon as it exists. Only a window
//    of inputs and the first layer's (squared) outputs of one prime are ever resident.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/keys.h"
#include "he/math/modulus.h"
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

// Pulls input ciphertext `input` (0 .. plan.input_size()-1) of plaintext prime `prime` (index into
// settings.plain_primes). Contract, for evaluate(primes, inputs, source):
//  - prime-major: every call for prime j happens before any call for prime j+1;
//  - each (prime, input) is requested exactly once per evaluate call;
//  - within a prime, inputs are requested roughly in the order the first linear layer needs them
//    (for a convolution: image rows top to bottom), NOT in index order;
//  - calls come from the global thread pool's workers, up to ThreadPool::global().size() at once:
//    the source MUST be thread-safe. It must not rely on ThreadPool::global() for parallelism
//    (nested parallel_for runs serially).
//  - the returned ciphertext must be fresh-sized (2 polynomials) for that prime's parameters; all
//    inputs of a prime at one level. Anything else throws InvalidArgument; an exception thrown by
//    the source stops the evaluation and propagates out of evaluate.
using CiphertextSource = std::function<bfv::Ciphertext(std::size_t prime, std::size_t input)>;
using PrimeSource = std::function<bfv::Ciphertext(std::size_t input)>;

// What a streaming evaluation measured (accumulated over the primes evaluated with it).
struct StreamStats {
  // Per plan step. The first linear layer and the element-wise steps fused into it run per output
  // group on all threads: their entries are seconds summed over threads (CPU-like); later steps
  // run one after another and their entries are wall seconds.
  std::vector<double> step_seconds;
  // Per plan step: CPU seconds of all threads (thread CPU clocks for fused steps, the process CPU
  // clock for later ones): stable on a shared machine where wall time is not.
  std::vector<double> step_cpu_seconds;
  double source_seconds = 0;           // inside the source, summed over threads
  double source_cpu_seconds = 0;
  double wall_seconds = 0;             // whole evaluate calls, source included
  std::size_t max_resident_inputs = 0; // most input ciphertexts held at once (one prime)
};

class BfvPlanEvaluator {
 public:
  // contexts and relin_keys: one per plaintext prime, in settings.plain_primes order. Throws
  // InvalidArgument when they do not match the settings or the plan.
  // With spatial blocks (settings.blocks > 1) the evaluator runs plan_for(plan, settings) (the
  // plan may be given blocked or not) and needs galois_keys, one set per prime, holding the block
  // sum's rotations and, for blocks in both slot rows, the row swap (BlockLayout).
  BfvPlanEvaluator(const Plan& plan, BfvSettings settings, std::vector<bfv::ContextPtr> contexts,
                   std::vector<bfv::RelinKeys> relin_keys, std::vector<bfv::GaloisKeys> galois_keys = {});

  // Called after every server step with its index in plan.steps (e.g. to measure noise).
  using StepHook = std::function<void(std::size_t step, const EncryptedBatch&)>;

  // Runs every step after Encrypt and before Decrypt, in place. step_seconds (if given) gets
  // plan.steps.size() entries of wall time (zero for Encrypt/Decrypt).
  void evaluate(EncryptedBatch& batch, std::vector<double>* step_seconds = nullptr,
                const StepHook& hook = {}) const;

  // Streaming evaluation (see CiphertextSource for the access order). primes and inputs must equal
  // settings.plain_primes.size() and plan.input_size(). Returns the output ciphertexts [prime][output]
  // (relinearised, at the final mod-switch level), ready for the key holder.
  std::vector<std::vector<bfv::Ciphertext>> evaluate(std::size_t primes, std::size_t inputs,
                                                     const CiphertextSource& source,
                                                     StreamStats* stats = nullptr) const;

  // Called with a sample ciphertext after steps of a streaming evaluation (the first output group's
  // first ciphertext for fused steps, up to 4 outputs for later ones), e.g. to measure noise. For
  // the fused steps it runs on the pool worker that computes that group; calls never overlap.
  using SampleHook = std::function<void(std::size_t step, std::size_t prime, const bfv::Ciphertext& sample)>;

  // One plaintext prime of a streaming evaluation: source(input) for that prime.
  std::vector<bfv::Ciphertext> evaluate_prime(std::size_t prime, const PrimeSource& source,
                                              StreamStats* stats = nullptr, const SampleHook& hook = {}) const;

  const Plan& plan() const { return plan_; }
  const BfvSettings& settings() const { return settings_; }

  // Outputs of linear step `step` whose multiply-adds for plaintext prime `prime` run lazily
  // (he::eltwise_mac_small: unreduced 64-bit sums, one reduction per block) rather than with the
  // reduced Shoup kernel. A row qualifies when its centred weights fit he::lazy_mac_fits for the
  // largest ciphertext prime; LEUKOCRYPT_LAZY_MAC=off (read at construction) disables all of them.
  std::size_t lazy_rows(std::size_t step, std::size_t prime) const;

 private:
  struct GroupTaps {
    std::vector<std::uint32_t> outputs;      // outputs of the group (into the layer's n_out)
    std::vector<std::uint32_t> inputs;       // distinct inputs used by the group, ascending
    std::vector<std::uint32_t> entry_start;  // per input: range into entries
    std::vector<std::pair<std::uint32_t, std::uint32_t>> entries;  // (output in group, tap index)
  };
  // The next linear layer's taps on the inputs that one streaming task makes; made_index[k]: where
  // taps.inputs[k] is among the task's outputs.
  struct FoldTask {
    GroupTaps taps;
    std::vector<std::uint32_t> made_index;
  };
  // The first linear layer, streamed: output groups in processing order and input use counts.
  struct StreamLayout {
    std::size_t step = 0;          // index of the first Linear step (0: plan does not start with one)
    std::size_t segment_end = 0;   // first step not fused into it (the next Linear, or Decrypt)
    std::vector<GroupTaps> groups;
    std::vector<std::uint32_t> uses;  // per input: groups that read it
    // The next Linear step (0: none, or LEUKOCRYPT_FOLD=off), folded into per-thread accumulators
    // task by task as the stream produces its inputs, so they never all exist at once. fold[t]:
    // its taps restricted to the inputs that task makes.
    std::size_t fold_step = 0;
    std::vector<FoldTask> fold;  // per task of kFoldGroups consecutive stream groups
  };
  class FoldAccumulators;
  class StepClock;
  // One linear step and plaintext prime: centred weights (w mod t in (-t/2, t/2]) per tap, and per
  // output whether its row takes the lazy multiply-add.
  struct LazyRows {
    std::vector<std::int64_t> weight;
    std::vector<std::uint8_t> lazy;
    std::size_t count = 0;
  };

  void check_batch(const EncryptedBatch& batch) const;
  std::vector<LazyRows> lazy_rows_of(const LinearOp& l) const;
  void plan_fold();
  // Folds a streaming task's finished outputs (made, in the order it makes them) into one
  // accumulator set of the fold step; lazy rows are left unreduced.
  void fold_task(std::size_t prime, std::size_t task, const std::vector<bfv::Ciphertext>& made,
                 const std::vector<he::ShoupOperand>& shoup, std::vector<bfv::Ciphertext>& into) const;
  // keep_input (if given, one flag per input of l): only the taps reading a kept input.
  static GroupTaps group_taps(const LinearOp& l, std::vector<std::uint32_t> outputs,
                              const std::vector<std::uint8_t>* keep_input = nullptr);
  std::vector<he::ShoupOperand> shoup_operands(const LinearOp& l, std::size_t prime, std::size_t level) const;
  // Accumulates one group's outputs (plus bias) from its inputs at `level`; relinearises size-3 results.
  std::vector<bfv::Ciphertext> linear_group(std::size_t step, std::size_t prime, const GroupTaps& taps,
                                            const std::vector<const bfv::Ciphertext*>& in,
                                            const std::vector<he::ShoupOperand>& shoup, std::size_t shoup_levels) const;
  // The multiply-adds of ciphertext prime i only, into accumulators below q (lazy rows: reduced
  // after every block unless reduce_lazy is false, when the caller reduces them once at the end).
  void accumulate_prime(std::size_t step, std::size_t prime, std::size_t i, const GroupTaps& taps,
                        const std::vector<const bfv::Ciphertext*>& in, const std::vector<he::ShoupOperand>& shoup,
                        std::size_t shoup_levels, const std::vector<bfv::Ciphertext*>& acc,
                        bool reduce_lazy = true) const;
  // Bias, and relinearisation of size-3 results (deferred relinearisation).
  void finish_output(std::size_t step, std::size_t prime, std::uint32_t output, bfv::Ciphertext& ct) const;
  // values[jj] belongs to plaintext prime prime0 + jj.
  void run_linear(std::size_t step, std::size_t prime0, std::vector<std::vector<bfv::Ciphertext>>& values) const;
  void run_unary(std::size_t step, std::size_t prime, bfv::Ciphertext& ct) const;
  // The block sum: output o = the blocks of inputs o * B .. o * B + B - 1 rotated into block 0.
  void run_block_sum(std::size_t step, std::size_t prime0, std::vector<std::vector<bfv::Ciphertext>>& values) const;
  void run_steps(std::size_t from, std::size_t prime0, std::vector<std::vector<bfv::Ciphertext>>& values,
                 std::vector<double>* step_seconds, const std::function<void(std::size_t)>& after_step,
                 std::vector<double>* step_cpu_seconds = nullptr) const;
  // Returns the outputs of the last fused step, or of the fold step when there is one.
  std::vector<bfv::Ciphertext> stream_first_linear(std::size_t prime, const PrimeSource& source, StepClock& clock,
                                                   const SampleHook& hook) const;

  Plan blocked_;  // the blocked plan when the caller gave the unblocked one
  const Plan& plan_;
  BfvSettings settings_;
  std::vector<bfv::GaloisKeys> galois_keys_;  // per prime: the block sum's keys (blocks only)
  std::vector<bfv::ContextPtr> contexts_;
  std::vector<bfv::Evaluator> evaluators_;
  std::vector<bfv::RelinKeys> relin_keys_;
  // Per linear step and prime: biases reduced to centred residues mod t_j.
  std::vector<std::vector<std::vector<std::int64_t>>> bias_mod_;  // [step][prime][out]
  std::vector<std::size_t> switch_level_;                         // [step]: target level, 0 = none
  std::vector<bool> skip_relin_;                                  // [step]: relinearisation deferred
  std::vector<std::vector<LazyRows>> lazy_;                       // [step][prime], linear steps only
  StreamLayout stream_;
};

}  // namespace leukocrypt::nn
