// The `ckks` backend: key holder and server in one process (encrypt on demand -> streamed
// evaluation -> decrypt, in batches of N/2 images), with per-stage times and the bytes that would
// cross the network. Logits agree with the float backend up to the precision model's bound.
// Parameters that carry a circuit-privacy flood (CkksSettings::circuit_privacy) get it as the
// service applies it (nn::CkksCircuitPrivacy on every result, timed with the server's work), so
// the logits are what the key holder would decrypt.
#pragma once

#include <memory>

#include "nn/backend.h"
#include "nn/ckks_settings.h"

namespace leukocrypt::nn {

struct CkksBackendOptions {
  bool progress = false;  // progress bar over batches (stderr, terminals only)
};

std::unique_ptr<Backend> make_ckks_backend(const CkksSettings& settings, const CkksBackendOptions& options = {});

}  // namespace leukocrypt::nn
