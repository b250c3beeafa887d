// The fixed parameter set the fuzz targets load against: N = 64, three 40-bit primes, t = 257.
// INSECURE (kInsecureForTests): small objects make the fuzzer fast.
#pragma once

#include "he/bfv/context.h"

namespace leukocrypt::fuzz {

inline const bfv::Context& context() {
  static const bfv::ContextPtr ctx =
      bfv::Context::create(bfv::Params::create(64, {40, 40, 40, 41}, 257, bfv::Security::kInsecureForTests));
  return *ctx;
}

}  // namespace leukocrypt::fuzz
