// Engine-internal helpers shared by the BFV sources (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/bfv/context.h"
#include "he/bfv/plaintext.h"
#include "he/ring/sampler.h"

namespace leukocrypt::bfv::detail {

// Seed-expansion domains (ChaCha20 nonces): must never change, they define the seeded formats.
inline constexpr std::uint64_t kDomainPublicKey = 1;
inline constexpr std::uint64_t kDomainSymmetric = 2;

// out rows 0..rows-1 uniform mod prime i (rows prime-major, n per row), in row order.
void expand_uniform(he::Prng& prng, const Context& ctx, std::size_t rows, std::uint64_t* out);

// c0 (level rows) += or -= round(Q*m/t) for the plaintext m (coefficients in [0, t)).
void add_scaled_plain(const Context& ctx, const Plaintext& pt, std::uint64_t* c0, std::size_t level,
                      bool subtract);

// Checks a plaintext's params id, size and coefficient range.
void check_plaintext(const Context& ctx, const Plaintext& pt);

}  // namespace leukocrypt::bfv::detail
