// Element-wise modular kernels on raw coefficient arrays of length n (HEXL style). Inputs are in
// [0, q) unless stated; `out`/`acc` may alias an input. The public functions dispatch to the best
// ISA at run time (dispatch.h); the scalar:: references are always callable.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/math/modulus.h"

namespace leukocrypt::he {

// out = a + b mod q.
void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q);
// out = a - b mod q.
void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q);
// out = -a mod q.
void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q);
// out = a * b mod q (Barrett).
void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q);
// out = a * w mod q, w a Shoup operand made for q. a may be any value below 2^52 (not only
// [0, q): base conversion multiplies residues of another prime).
void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q);
// acc = acc + a * w mod q: the CryptoNets weight op (O(n), no NTT). acc in [0, q); a < 2^52 as
// for eltwise_mul_scalar_mod.
void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q);
// out = a + c mod q, c in [0, q).
void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,
                            std::size_t n, const Modulus& q);
// out = a mod q for arbitrary 64-bit a.
void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q);
// acc = acc + a * b mod q (dyadic; key-switching inner products).
void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n, const Modulus& q);
// out[c] = sum_{i<k} rows[i][c] * w[i] mod q, out in [0, q): the inner loop of RNS base
// conversion, one pass instead of k multiply-adds. rows[i][c] may be any value below 2^52;
// w[i] are Shoup operands made for q; k <= 64. out may be one of the rows (the same pointer:
// each coefficient is read before it is written), but must not overlap a row otherwise.
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q);

// Lazy multiply-add for long sums (CKKS linear layers): acc += t with t = a * w mod q up to one
// extra q (t in [0, 2q)), no reduction of acc. a in [0, q), w a Shoup operand for q. The caller keeps
// every acc below 2^64 (at most fma_lazy_terms(q) terms on an acc in [0, q)) and reduces it once
// at the end with eltwise_reduce_mod.
void eltwise_fma_lazy_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                          std::size_t n, const Modulus& q);
// How many eltwise_fma_lazy_mod terms an accumulator starting in [0, q) may take before it must be
// reduced: 2^(63 - bit_count(q)) - 1 (8,191 for a 50-bit prime).
std::size_t fma_lazy_terms(const Modulus& q);

// Dense product for linear layers: out[o][c] = sum_{j<k} w[o * k + j] * rows[j][c] mod q for o < m,
// c < n, outputs in [0, q). rows[j][c] and every w in [0, q); k <= kMatmulMaxTerms; no out row may
// overlap a row. One reduction per output coefficient (the IFMA version sums the low and high 52-bit
// halves of the products in separate lanes: two instructions per term, each input vector loaded once
// for up to 8 outputs); the caller blocks n so that the k rows' blocks stay in cache.
inline constexpr std::size_t kMatmulMaxTerms = 4096;
void eltwise_matmul_mod(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                        std::size_t m, std::size_t k, std::size_t n, const Modulus& q);

// Lazy small-weight multiply-add, the CryptoNets linear-layer op without a reduction per term:
// acc += |w| * x for w >= 0, acc += |w| * (q - x) for w < 0 (each term = w * x mod q), in plain
// 64-bit arithmetic. Requires |w| < 2^32, x in [0, q], and that the caller keeps every acc
// below 2^64 over all the terms it adds (e.g. acc starts in [0, q) and (1 + sum |w|) * q < 2^64:
// see lazy_mac_fits). Reduce the accumulators once at the end with eltwise_reduce_mod.
void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q);
// Whether eltwise_mac_small may add terms with these weights to an accumulator in [0, q) without
// overflowing: every |w| < 2^32 and (1 + sum |w|) * q < 2^64.
bool lazy_mac_fits(const std::int64_t* w, std::size_t count, const Modulus& q);

namespace scalar {
void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q);
void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q);
void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q);
void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q);
void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q);
void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q);
void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,
                            std::size_t n, const Modulus& q);
void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q);
void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n, const Modulus& q);
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q);
void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q);
void eltwise_fma_lazy_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                          std::size_t n, const Modulus& q);
void eltwise_matmul_mod(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                        std::size_t m, std::size_t k, std::size_t n, const Modulus& q);
}  // namespace scalar

}  // namespace leukocrypt::he
