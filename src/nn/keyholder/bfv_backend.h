// The `bfv` backend: key holder and server in one process (encrypt -> evaluate -> decrypt, in
// batches of N images), with the per-stage times, noise budget after every step and the bytes
// that would cross the network. Encrypted logits must equal the raw backend's exactly.
#pragma once

#include <memory>

#include "nn/backend.h"
#include "nn/bfv_settings.h"

namespace leukocrypt::nn {

struct BfvBackendOptions {
  bool measure_noise = true;  // decrypt-side noise budget after each step (a few ciphertexts)
  bool progress = false;      // progress bar over batches (stderr, terminals only)
  // One plaintext prime at a time, input ciphertexts encrypted on demand as the server pulls them
  // (BfvPlanEvaluator::evaluate_prime): a window of inputs resident instead of all of them.
  // Encryption then overlaps the server work: the report's encode/encrypt seconds are the time
  // spent in them summed over threads divided by the thread count, and evaluate_seconds is the
  // rest of the wall time. false: encrypt everything, then evaluate step by step (old path).
  bool streaming = true;
};

// The backend runs the plan in the settings' layout (plan_for): a throughput plan given with
// latency settings is lowered to the latency layout first.
std::unique_ptr<Backend> make_bfv_backend(const BfvSettings& settings, const BfvBackendOptions& options = {});

}  // namespace leukocrypt::nn
