// Server side of CKKS encrypted inference (public: no secret key). One image per slot (N/2 images
// per ciphertext), float weights, no quantisation and no plaintext CRT: input value v is one
// ciphertext holding v of every image. Per step:
//   Linear      out = sum w * in  (Evaluator::multiply_scalar_add_inplace, weights encoded at the
//               level's last prime, so every term has the same scale), one rescale, then the bias
//               (add_scalar_inplace): the scale is back to the input's scale;
//   Square      square_relin + rescale (the Relinearize step is then a no-op);
// or as the settings' scale schedule says (CkksStepScale: weights at 2^k, 0..3 rescales per step;
// the wide schedule of circuit privacy).
//   ModSwitch   no-op (the rescales already shrink the ciphertexts).
// Streaming as in BfvPlanEvaluator: the first linear layer runs in groups of outputs ordered by
// the last input they read (image rows top to bottom for a convolution over CHW inputs); inputs are
// pulled from the source when a group first needs them and dropped when their last group is done,
// and the element-wise steps after that layer run on each output as soon as it exists.
// The next linear layer is folded into the stream (as BFV's FoldAccumulators): after every chunk
// of kFoldGroups groups its terms over that chunk's outputs are summed into the layer's
// accumulators (one blocked linear_layer pass) and the chunk's outputs are freed, so the first
// layer's outputs never all exist (MNIST: 845 x 1 MB). Sums mod q: the same ciphertexts as the
// unfolded layer (LEUKOCRYPT_FOLD=off restores it, to compare).
#pragma once

#include <functional>
#include <vector>

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/keys.h"
#include "nn/ckks_settings.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

// Input ciphertext `input` (0 .. plan.input_size()-1), fresh (size 2) at the top level and the
// default scale. Called from the global pool's workers, several at once (must be thread-safe),
// each input exactly once per evaluate call, roughly in the order the first linear layer needs them.
using CkksSource = std::function<ckks::Ciphertext(std::size_t input)>;

struct CkksStreamStats {
  std::vector<double> step_seconds;   // per plan step: the fused first segment summed over threads
  double source_seconds = 0;          // inside the source, summed over threads
  double wall_seconds = 0;
  std::size_t max_resident_inputs = 0;
};

class CkksPlanEvaluator {
 public:
  // Throws InvalidArgument when the plan does not start with Encrypt, Linear, has no linear layers,
  // or needs more rescales than the parameters have primes, or when the key is for other parameters.
  // schedule: CkksSettings::schedule (empty: one rescale per linear layer and square).
  CkksPlanEvaluator(const Plan& plan, ckks::ContextPtr ctx, ckks::RelinKeys relin_keys, CkksSchedule schedule = {});

  // Every step after Encrypt and before Decrypt; returns the plan.output_size() logit ciphertexts.
  std::vector<ckks::Ciphertext> evaluate(const CkksSource& source, CkksStreamStats* stats = nullptr) const;

  const Plan& plan() const { return plan_; }
  const ckks::ContextPtr& context() const { return ctx_; }

 private:
  struct Group {
    std::vector<std::uint32_t> outputs;
    std::vector<std::uint32_t> inputs;  // distinct, ascending
    // The group's rows of the layer as a CSR over its own inputs (index into `inputs`), for one
    // blocked pass (ckks::Evaluator::linear_layer) instead of a pass over memory per tap.
    std::vector<std::uint32_t> row_start, local_index;
    std::vector<float> weight;
  };
  // The folded layer's rows over one chunk's first-layer outputs (index into `outputs`).
  struct FoldChunk {
    std::size_t first_group = 0, end_group = 0;
    std::vector<std::uint32_t> outputs, row_start, index;
    std::vector<float> weight;
  };
  class Inputs;
  void plan_fold();
  void fold_chunk(const FoldChunk& c, std::vector<ckks::Ciphertext>& first, std::vector<ckks::Ciphertext>& acc) const;
  void run_unary(std::size_t s, ckks::Ciphertext& ct) const;
  // The end of a linear layer on its outputs (one per row of l): one rescale, then the bias.
  void rescale_and_bias(std::vector<ckks::Ciphertext>& outputs, std::size_t step) const;
  void rescale_and_bias(ckks::Ciphertext& ct, std::size_t step, float bias) const;
  // The linear step's weight scale for ckks::Evaluator (0: the level's last prime).
  double weight_scale(std::size_t step) const;
  std::vector<ckks::Ciphertext> stream_first(const CkksSource& source, CkksStreamStats& stats) const;

  const Plan& plan_;
  ckks::ContextPtr ctx_;
  ckks::Evaluator eval_;
  ckks::RelinKeys relin_keys_;
  CkksSchedule schedule_;
  std::size_t segment_end_ = 2;       // first step after the fused first segment
  std::vector<Group> groups_;
  std::vector<std::uint32_t> uses_;   // per input: groups that read it
  std::vector<FoldChunk> fold_;       // empty: the next layer is not folded
};

}  // namespace leukocrypt::nn
