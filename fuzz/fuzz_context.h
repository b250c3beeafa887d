// The fixed parameter sets the fuzz targets load against. BFV: N = 64, three 40-bit primes,
// t = 257. CKKS: N = 64, a 50-bit q_0, two rescale primes near 2^40, a 50-bit special prime.
// INSECURE (kInsecureForTests): small objects make the fuzzer fast.
#pragma once

#include "he/bfv/context.h"
#include "he/ckks/context.h"

namespace leukocrypt::fuzz {

inline const bfv::Context& context() {
  static const bfv::ContextPtr ctx =
      bfv::Context::create(bfv::Params::create(64, {40, 40, 40, 41}, 257, bfv::Security::kInsecureForTests));
  return *ctx;
}

inline const ckks::Context& ckks_context() {
  static const ckks::ContextPtr ctx =
      ckks::Context::create(ckks::Params::create(64, 50, 2, 40, 50, ckks::Security::kInsecureForTests));
  return *ctx;
}

}  // namespace leukocrypt::fuzz
