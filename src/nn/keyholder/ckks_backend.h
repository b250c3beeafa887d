// The `ckks` backend: key holder and server in one process (encrypt on demand -> streamed
// evaluation -> decrypt, in batches of N/2 images), with per-stage times and the bytes that would
// cross the network. Logits agree with the float backend up to the precision model's bound.
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
