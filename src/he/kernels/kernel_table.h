// Internal: the function table behind dispatch, one per ISA. Differential tests use
// kernel_table(isa) to run every ISA's kernels side by side in one process.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/kernels/dispatch.h"
#include "he/kernels/ntt.h"
#include "he/math/modulus.h"

namespace leukocrypt::he {

struct KernelTable {
  using Ntt = void (*)(std::uint64_t*, const NttTables&);
  using Binary = void (*)(std::uint64_t*, const std::uint64_t*, const std::uint64_t*, std::size_t,
                          const Modulus&);
  using Unary = void (*)(std::uint64_t*, const std::uint64_t*, std::size_t, const Modulus&);
  using ByShoup = void (*)(std::uint64_t*, const std::uint64_t*, const ShoupOperand&, std::size_t,
                           const Modulus&);
  using ByScalar = void (*)(std::uint64_t*, const std::uint64_t*, std::uint64_t, std::size_t,
                            const Modulus&);
  using Dot = void (*)(std::uint64_t*, const std::uint64_t* const*, const ShoupOperand*, std::size_t,
                       std::size_t, const Modulus&);
  using Matmul = void (*)(std::uint64_t* const*, const std::uint64_t* const*, const std::uint64_t*,
                          std::size_t, std::size_t, std::size_t, const Modulus&);
  using MacSmall = void (*)(std::uint64_t*, const std::uint64_t*, std::int64_t, std::size_t,
                            const Modulus&);

  KernelIsa isa;
  Ntt forward_ntt;
  Ntt forward_ntt_lazy;
  Ntt inverse_ntt;
  Binary add_mod;
  Binary sub_mod;
  Unary neg_mod;
  Binary mul_mod;
  ByShoup mul_scalar_mod;
  ByShoup fma_scalar_mod;
  ByScalar add_scalar_mod;
  Unary reduce_mod;
  Binary mul_add_mod;
  Dot dot_scalar_mod;
  MacSmall mac_small;
  ByShoup fma_lazy_mod;
  Matmul matmul_mod;
};

// The table for `isa`; throws InvalidArgument when !isa_supported(isa).
const KernelTable& kernel_table(KernelIsa isa);

// Whether table `k` reproduces the scalar kernels on a small known input (NTT n = 64, a 40-bit
// prime, and element-wise ops); active_isa() falls back to scalar when this fails.
bool passes_self_test(const KernelTable& k);

// The table of active_isa().
const KernelTable& active_kernel_table();

}  // namespace leukocrypt::he
