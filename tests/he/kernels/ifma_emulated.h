// Test-only: the emulated IFMA kernels (ifma_emulated.cpp) with the same signatures as every ISA.
#pragma once

#include "he/kernels/isa_kernels.h"

namespace leukocrypt::he::ifma_emulated {
LC_DECLARE_ISA_KERNELS
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q);
// Whether an emulated 52-bit multiplier saw an input >= 2^52 since the last call (then clears).
bool take_range_violation();
}  // namespace leukocrypt::he::ifma_emulated
