// Engine-internal helpers shared by the BFV sources (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/bfv/context.h"
#include "he/bfv/plaintext.h"

namespace leukocrypt::bfv::detail {

// c0 (level rows) += or -= round(Q*m/t) for the plaintext m (coefficients in [0, t)).
void add_scaled_plain(const Context& ctx, const Plaintext& pt, std::uint64_t* c0, std::size_t level,
                      bool subtract);

// Checks a plaintext's params id, size and coefficient range.
void check_plaintext(const Context& ctx, const Plaintext& pt);

}  // namespace leukocrypt::bfv::detail
