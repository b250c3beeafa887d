// Internal: declarations of the per-ISA kernel implementations (defined in the *_<isa>.cpp
// files, each compiled with its own target flags). Only dispatch.cpp and tests include this;
// tests reuse LC_DECLARE_ISA_KERNELS for the emulated IFMA kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/kernels/ntt.h"
#include "he/math/modulus.h"

#define LC_DECLARE_ISA_KERNELS                                                                     \
  void forward_ntt(std::uint64_t* a, const NttTables& tables);                                     \
  void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables);                                \
  void inverse_ntt(std::uint64_t* a, const NttTables& tables);                                     \
  void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,         \
                       std::size_t n, const Modulus& q);                                           \
  void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,         \
                       std::size_t n, const Modulus& q);                                           \
  void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n,                  \
                       const Modulus& q);                                                          \
  void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,         \
                       std::size_t n, const Modulus& q);                                           \
  void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,   \
                              std::size_t n, const Modulus& q);                                    \
  void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,   \
                              std::size_t n, const Modulus& q);                                    \
  void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,         \
                              std::size_t n, const Modulus& q);                                    \
  void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n,               \
                          const Modulus& q);                                                       \
  void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,     \
                           std::size_t n, const Modulus& q);                                       \
  void eltwise_fma_lazy_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,     \
                            std::size_t n, const Modulus& q);                                      \
  void eltwise_matmul_mod(std::uint64_t* const* out, const std::uint64_t* const* rows,             \
                          const std::uint64_t* w, std::size_t m, std::size_t k, std::size_t n,     \
                          const Modulus& q);

namespace leukocrypt::he {
#if LEUKOCRYPT_KERNELS_IFMA
namespace avx512ifma {
LC_DECLARE_ISA_KERNELS
// Base-conversion dot product (eltwise.h), in 52-bit lanes (ifma_kernels_impl.h).
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q);
// Lazy small-weight multiply-add with AVX512DQ's 64-bit multiply (kernels_avx512ifma.cpp only).
void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q);
}  // namespace avx512ifma
#endif
#if LEUKOCRYPT_KERNELS_AVX2
namespace avx2 {
LC_DECLARE_ISA_KERNELS
// Base-conversion dot product (double-precision lanes; the IFMA table has its own).
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q);
// Lazy small-weight multiply-add (64-bit integer lanes).
void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q);
}  // namespace avx2
#endif
}  // namespace leukocrypt::he
