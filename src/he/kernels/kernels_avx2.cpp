// AVX2 + FMA kernels (4 lanes), compiled with -mavx2 -mfma -ffp-contract=off and called only when
// CPUID reports them. AVX2 has no 64-bit multiply-high, so for q < 2^50 the NTT and the
// multiplying element-wise kernels work in double precision, where every lazy value (< 4q < 2^52)
// is exact:
//   y * w mod q: quot = floor(y * (w/q)) is within 1 of the true quotient (the product is below
//   2^52 and carries relative error < 2^-52), y * w = p_hi + p_lo exactly by one FMA
//   (the "two-product"), and y*w - quot*q = fma(-quot, q, p_hi) + p_lo is exact because it is an
//   integer below 2^53 in magnitude; it lies in [-q, 2q) and one correction makes it [0, 2q).
// The butterflies are Harvey's lazy ones (Harvey 2014, "Faster arithmetic for number-theoretic
// transforms"). Larger moduli use the scalar kernels; additions use 64-bit integer lanes.
#include <immintrin.h>

#include <algorithm>

#include "he/kernels/eltwise.h"
#include "he/kernels/isa_kernels.h"
#include "he/kernels/ntt.h"

namespace leukocrypt::he::avx2 {
namespace {

// ---- conversions: integers below 2^52 <-> doubles, exactly, via the 2^52 exponent trick ----
// (Function-local constants: a namespace-scope AVX2 constant would run at start-up on any CPU.)
inline __m256i magic_bits() { return _mm256_set1_epi64x(0x4330000000000000LL); }  // bits of 2^52
inline __m256d magic() { return _mm256_set1_pd(4503599627370496.0); }              // 2^52

inline __m256d load_u64_as_pd(const std::uint64_t* p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, magic_bits())), magic());
}
inline void store_pd_as_u64(std::uint64_t* p, __m256d d) {
  __m256i v = _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(d, magic())), magic_bits());
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}
// Between NTT stages the buffer holds doubles in place of the integers.
inline __m256d load_pd(const std::uint64_t* p) { return _mm256_loadu_pd(reinterpret_cast<const double*>(p)); }
inline void store_pd(std::uint64_t* p, __m256d d) { _mm256_storeu_pd(reinterpret_cast<double*>(p), d); }

struct FpConsts {
  explicit FpConsts(std::uint64_t qv)
      : q(_mm256_set1_pd(static_cast<double>(qv))), two_q(_mm256_set1_pd(2.0 * static_cast<double>(qv))),
        zero(_mm256_setzero_pd()) {}
  __m256d q, two_q, zero;
};

// x mod b for x in [0, 2b).
inline __m256d reduce_once(__m256d x, __m256d b) {
  return _mm256_sub_pd(x, _mm256_and_pd(_mm256_cmp_pd(x, b, _CMP_GE_OQ), b));
}

// y * w mod q in [0, 2q), for 0 <= y < 4q, w < q < 2^50, w_quo = w / q rounded.
inline __m256d mul_mod_lazy(__m256d y, __m256d w, __m256d w_quo, const FpConsts& c) {
  __m256d quot = _mm256_floor_pd(_mm256_mul_pd(y, w_quo));             // 1. true quotient +-1
  __m256d p_hi = _mm256_mul_pd(y, w);                                  // 2. y * w = p_hi + p_lo
  __m256d p_lo = _mm256_fmsub_pd(y, w, p_hi);
  __m256d r = _mm256_add_pd(_mm256_fnmadd_pd(quot, c.q, p_hi), p_lo);  // 3. exact, in [-q, 2q)
  return _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, c.zero, _CMP_LT_OQ), c.q));  // 4. [0, 2q)
}

// ---- NTT in signed representation ----
// Between stages the NTT keeps integer-valued doubles in (-2.01q, 2.01q) instead of Harvey's
// unsigned [0, 4q): a signed remainder needs no "if negative add q" correction, and reducing x by
// a rounded quotient costs no more than a compare-and-subtract. Harvey's idea is kept: operands
// are only partially reduced between stages, and twiddle products are computed from a
// precomputed w/q (the analogue of his Shoup quotient).

inline __m256d round_nearest(__m256d x) {
  return _mm256_round_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// x - round(x/q) * q, in [-0.51q, 0.51q] for |x| < 8q (exact: an integer below 2^51 from one FMA).
inline __m256d reduce_signed(__m256d x, __m256d q_inv, const FpConsts& c) {
  return _mm256_fnmadd_pd(round_nearest(_mm256_mul_pd(x, q_inv)), c.q, x);
}

// y * w mod q as a signed value in (-1.5q, 1.5q), for |y| < 4q, w < q < 2^50, w_quo = w / q.
// The rounded quotient is within 1.5 of y*w/q; the remainder is computed exactly as above.
inline __m256d mul_mod_signed(__m256d y, __m256d w, __m256d w_quo, const FpConsts& c) {
  __m256d quot = round_nearest(_mm256_mul_pd(y, w_quo));
  __m256d p_hi = _mm256_mul_pd(y, w);
  __m256d p_lo = _mm256_fmsub_pd(y, w, p_hi);
  return _mm256_add_pd(_mm256_fnmadd_pd(quot, c.q, p_hi), p_lo);
}

// Cooley-Tukey butterfly (Harvey 2014, Algorithm 4, signed variant). Stages alternate:
//  kReduceX:  |x| < 8q, |y| < 4q      -> x + wy, x - wy in (-2.01q, 2.01q);
//  !kReduceX: |x|, |y| < 2.01q         -> x + wy, x - wy in (-3.51q, 3.51q)
// (x is reduced only every other stage, as Harvey lets x grow; |y| < 4q keeps the rounded
// quotient within 1.5).
template <bool kReduceX>
inline void forward_butterfly(__m256d& x, __m256d& y, __m256d w, __m256d wq, __m256d q_inv,
                              const FpConsts& c) {
  __m256d xr = kReduceX ? reduce_signed(x, q_inv, c) : x;  // 1. |x| <= 0.51q (or < 2.01q)
  __m256d t = mul_mod_signed(y, w, wq, c);                 // 2. |t| < 1.5q
  x = _mm256_add_pd(xr, t);                                // 3. x + t, x - t
  y = _mm256_sub_pd(xr, t);
}

// Gentleman-Sande butterfly, signed: |x|, |y| < 2q -> x + y reduced to [-0.51q, 0.51q],
// (x - y) * w in (-1.5q, 1.5q).
inline void inverse_butterfly(__m256d& x, __m256d& y, __m256d w, __m256d wq, __m256d q_inv,
                              const FpConsts& c) {
  __m256d d = _mm256_sub_pd(x, y);
  x = reduce_signed(_mm256_add_pd(x, y), q_inv, c);
  y = mul_mod_signed(d, w, wq, c);
}

enum class Pass { kForwardReduceX, kForward, kInverse };

template <Pass P>
inline void butterfly(__m256d& x, __m256d& y, __m256d w, __m256d wq, __m256d q_inv,
                      const FpConsts& c) {
  if constexpr (P == Pass::kInverse) inverse_butterfly(x, y, w, wq, q_inv, c);
  else forward_butterfly<P == Pass::kForwardReduceX>(x, y, w, wq, q_inv, c);
}

// Signed (-8q, 8q) -> [0, q).
inline __m256d to_canonical(__m256d x, __m256d q_inv, const FpConsts& c) {
  __m256d r = reduce_signed(x, q_inv, c);  // [-0.51q, 0.51q]
  return _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, c.zero, _CMP_LT_OQ), c.q));
}

// Stages with t >= 4 (block i of stage m uses twiddle m + i). kConvertIn: the buffer still
// holds integers (first forward stage).
template <Pass P, bool kConvertIn>
void wide_stage(std::uint64_t* a, std::size_t m, std::size_t t, const double* w_val,
                const double* w_quo, __m256d q_inv, const FpConsts& c) {
  for (std::size_t i = 0; i < m; ++i) {
    const __m256d w = _mm256_set1_pd(w_val[m + i]), wq = _mm256_set1_pd(w_quo[m + i]);
    std::uint64_t* x = a + 2 * i * t;
    std::uint64_t* y = x + t;
    for (std::size_t j = 0; j < t; j += 4) {
      __m256d vx = kConvertIn ? load_u64_as_pd(x + j) : load_pd(x + j);
      __m256d vy = kConvertIn ? load_u64_as_pd(y + j) : load_pd(y + j);
      butterfly<P>(vx, vy, w, wq, q_inv, c);
      store_pd(x + j, vx);
      store_pd(y + j, vy);
    }
  }
}

// Twiddles of stage t = 2 (block size 4) over the 8-element chunk starting at block b:
// lanes hold elements {0, 1, 4, 5} -> blocks {b, b, b+1, b+1}.
inline __m256d twiddles_t2(const double* w, std::size_t b) {
  return _mm256_set_m128d(_mm_set1_pd(w[b + 1]), _mm_set1_pd(w[b]));
}
// Stage t = 1 (block size 2) from block b: lanes hold elements {0, 4, 2, 6} -> blocks
// {b, b+2, b+1, b+3}.
inline __m256d twiddles_t1(const double* w, std::size_t b) {
  return _mm256_permute4x64_pd(_mm256_loadu_pd(w + b), _MM_SHUFFLE(3, 1, 2, 0));
}

// Stages t = 2 and t = 1 on one 8-element chunk v0 = e[0..3], v1 = e[4..7] in registers.
template <Pass P>
inline void chunk_t2(__m256d& v0, __m256d& v1, __m256d w, __m256d wq, __m256d q_inv,
                     const FpConsts& c) {
  __m256d x = _mm256_permute2f128_pd(v0, v1, 0x20);  // e0 e1 e4 e5
  __m256d y = _mm256_permute2f128_pd(v0, v1, 0x31);  // e2 e3 e6 e7
  butterfly<P>(x, y, w, wq, q_inv, c);
  v0 = _mm256_permute2f128_pd(x, y, 0x20);
  v1 = _mm256_permute2f128_pd(x, y, 0x31);
}
template <Pass P>
inline void chunk_t1(__m256d& v0, __m256d& v1, __m256d w, __m256d wq, __m256d q_inv,
                     const FpConsts& c) {
  __m256d x = _mm256_unpacklo_pd(v0, v1);  // e0 e4 e2 e6
  __m256d y = _mm256_unpackhi_pd(v0, v1);  // e1 e5 e3 e7
  butterfly<P>(x, y, w, wq, q_inv, c);
  v0 = _mm256_unpacklo_pd(x, y);
  v1 = _mm256_unpackhi_pd(x, y);
}

// Stages t = 2 and t = 1 per 8-element chunk in registers, then reduction to [0, q) (also a
// valid lazy output) and conversion back to integers. kT2Reduces: stage t = 2 has even index.
template <bool kT2Reduces>
void forward_last_stages(std::uint64_t* a, std::size_t n, const double* w_val, const double* w_quo,
                         __m256d q_inv, const FpConsts& c) {
  constexpr Pass p2 = kT2Reduces ? Pass::kForwardReduceX : Pass::kForward;
  constexpr Pass p1 = kT2Reduces ? Pass::kForward : Pass::kForwardReduceX;
  for (std::size_t k = 0; k < n / 8; ++k) {
    std::uint64_t* p = a + 8 * k;
    __m256d v0 = load_pd(p), v1 = load_pd(p + 4);
    chunk_t2<p2>(v0, v1, twiddles_t2(w_val, n / 4 + 2 * k), twiddles_t2(w_quo, n / 4 + 2 * k), q_inv, c);
    chunk_t1<p1>(v0, v1, twiddles_t1(w_val, n / 2 + 4 * k), twiddles_t1(w_quo, n / 2 + 4 * k), q_inv, c);
    store_pd_as_u64(p, to_canonical(v0, q_inv, c));
    store_pd_as_u64(p + 4, to_canonical(v1, q_inv, c));
  }
}

void forward_ntt_fp(std::uint64_t* a, const NttTables& tables) {
  const std::size_t n = tables.n();
  const std::uint64_t qv = tables.modulus().value();
  const FpConsts c(qv);
  const __m256d q_inv = _mm256_set1_pd(1.0 / static_cast<double>(qv));
  const double* w_val = tables.root_fp();
  const double* w_quo = tables.root_fp_quotients();
  // 1. Stages t = n/2 .. 4 (stage s reduces x when s is even); the first one converts the
  // integers ([0, 4q)) to doubles.
  wide_stage<Pass::kForwardReduceX, true>(a, 1, n / 2, w_val, w_quo, q_inv, c);
  int stage = 1;
  for (std::size_t m = 2, t = n / 4; t >= 4; m <<= 1, t >>= 1, ++stage) {
    if (stage % 2 == 0) wide_stage<Pass::kForwardReduceX, false>(a, m, t, w_val, w_quo, q_inv, c);
    else wide_stage<Pass::kForward, false>(a, m, t, w_val, w_quo, q_inv, c);
  }
  // 2. Stages t = 2 and t = 1 (indices log n - 2 and log n - 1), then [0, q).
  if (stage % 2 == 0) forward_last_stages<true>(a, n, w_val, w_quo, q_inv, c);
  else forward_last_stages<false>(a, n, w_val, w_quo, q_inv, c);
}

}  // namespace

void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables) {
  if (!tables.has_fp_tables()) return scalar::forward_ntt_lazy(a, tables);
  forward_ntt_fp(a, tables);
}

void forward_ntt(std::uint64_t* a, const NttTables& tables) {
  if (!tables.has_fp_tables()) return scalar::forward_ntt(a, tables);
  forward_ntt_fp(a, tables);
}

void inverse_ntt(std::uint64_t* a, const NttTables& tables) {
  if (!tables.has_fp_tables()) return scalar::inverse_ntt(a, tables);
  const std::size_t n = tables.n();
  const std::uint64_t qv = tables.modulus().value();
  const FpConsts c(qv);
  const double qd = static_cast<double>(qv);
  const __m256d q_inv = _mm256_set1_pd(1.0 / qd);
  const double* w_val = tables.inv_root_fp();
  const double* w_quo = tables.inv_root_fp_quotients();
  // 1. Stages t = 1 (m = n/2) and t = 2 (m = n/4) per chunk, converting [0, 2q) integers.
  for (std::size_t k = 0; k < n / 8; ++k) {
    std::uint64_t* p = a + 8 * k;
    __m256d v0 = load_u64_as_pd(p), v1 = load_u64_as_pd(p + 4);
    chunk_t1<Pass::kInverse>(v0, v1, twiddles_t1(w_val, n / 2 + 4 * k), twiddles_t1(w_quo, n / 2 + 4 * k), q_inv, c);
    chunk_t2<Pass::kInverse>(v0, v1, twiddles_t2(w_val, n / 4 + 2 * k), twiddles_t2(w_quo, n / 4 + 2 * k), q_inv, c);
    store_pd(p, v0);
    store_pd(p + 4, v1);
  }
  // 2. Stages t = 4 .. n/4; values stay in (-1.5q, 1.5q).
  std::size_t t = 4;
  for (std::size_t m = n / 8; m > 1; m >>= 1, t <<= 1) {
    wide_stage<Pass::kInverse, false>(a, m, t, w_val, w_quo, q_inv, c);
  }
  // 3. Last stage (t = n/2) with 1/n folded in, reduced to [0, q) and converted back.
  const ShoupOperand inv_n = tables.inv_n(), inv_n_w = tables.inv_n_root();
  const __m256d f = _mm256_set1_pd(static_cast<double>(inv_n.value));
  const __m256d fq = _mm256_set1_pd(static_cast<double>(inv_n.value) / qd);
  const __m256d g = _mm256_set1_pd(static_cast<double>(inv_n_w.value));
  const __m256d gq = _mm256_set1_pd(static_cast<double>(inv_n_w.value) / qd);
  for (std::size_t j = 0; j < t; j += 4) {
    __m256d x = load_pd(a + j), y = load_pd(a + t + j);
    __m256d s = _mm256_add_pd(x, y);  // |s|, |d| < 3q
    __m256d d = _mm256_sub_pd(x, y);
    store_pd_as_u64(a + j, to_canonical(mul_mod_signed(s, f, fq, c), q_inv, c));
    store_pd_as_u64(a + t + j, to_canonical(mul_mod_signed(d, g, gq, c), q_inv, c));
  }
}

// ---- element-wise ---------------------------------------------------------------------------

namespace {

bool fp_applies(const Modulus& q) { return q.bit_count() <= kIfmaMaxModulusBits; }

inline __m256i load_i(const std::uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void store_i(std::uint64_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// a * b mod q in [0, q) for a, b in [0, q), q < 2^50 (quotient from 1/q: product < 2^100,
// estimate within 1 as above).
inline __m256d mul_mod_fp(__m256d a, __m256d b, __m256d q_inv, const FpConsts& c) {
  __m256d p_hi = _mm256_mul_pd(a, b);
  __m256d p_lo = _mm256_fmsub_pd(a, b, p_hi);
  __m256d quot = _mm256_floor_pd(_mm256_mul_pd(p_hi, q_inv));
  __m256d r = _mm256_add_pd(_mm256_fnmadd_pd(quot, c.q, p_hi), p_lo);  // [-q, 2q)
  r = _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, c.zero, _CMP_LT_OQ), c.q));
  return reduce_once(r, c.q);
}

}  // namespace

// Integer lanes: values < 2^61, so signed 64-bit compares are exact.
void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q.value()));
  const __m256i vq1 = _mm256_set1_epi64x(static_cast<long long>(q.value() - 1));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256i s = _mm256_add_epi64(load_i(a + i), load_i(b + i));
    store_i(out + i, _mm256_sub_epi64(s, _mm256_and_si256(_mm256_cmpgt_epi64(s, vq1), vq)));
  }
  for (; i < n; ++i) out[i] = add_mod(a[i], b[i], q.value());
}

void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q.value()));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256i va = load_i(a + i), vb = load_i(b + i);
    __m256i d = _mm256_sub_epi64(va, vb);
    store_i(out + i, _mm256_add_epi64(d, _mm256_and_si256(_mm256_cmpgt_epi64(vb, va), vq)));
  }
  for (; i < n; ++i) out[i] = sub_mod(a[i], b[i], q.value());
}

void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q.value()));
  const __m256i zero = _mm256_setzero_si256();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256i va = load_i(a + i);
    store_i(out + i, _mm256_andnot_si256(_mm256_cmpeq_epi64(va, zero), _mm256_sub_epi64(vq, va)));
  }
  for (; i < n; ++i) out[i] = neg_mod(a[i], q.value());
}

void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,
                            std::size_t n, const Modulus& q) {
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q.value()));
  const __m256i vq1 = _mm256_set1_epi64x(static_cast<long long>(q.value() - 1));
  const __m256i vc = _mm256_set1_epi64x(static_cast<long long>(c));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256i s = _mm256_add_epi64(load_i(a + i), vc);
    store_i(out + i, _mm256_sub_epi64(s, _mm256_and_si256(_mm256_cmpgt_epi64(s, vq1), vq)));
  }
  for (; i < n; ++i) out[i] = add_mod(a[i], c, q.value());
}

void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  if (!fp_applies(q)) return scalar::eltwise_mul_mod(out, a, b, n, q);
  const FpConsts c(q.value());
  const __m256d q_inv = _mm256_set1_pd(1.0 / static_cast<double>(q.value()));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    store_pd_as_u64(out + i, mul_mod_fp(load_u64_as_pd(a + i), load_u64_as_pd(b + i), q_inv, c));
  }
  for (; i < n; ++i) out[i] = mul_mod(a[i], b[i], q);
}

void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n, const Modulus& q) {
  if (!fp_applies(q)) return scalar::eltwise_mul_add_mod(acc, a, b, n, q);
  const FpConsts c(q.value());
  const __m256d q_inv = _mm256_set1_pd(1.0 / static_cast<double>(q.value()));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d p = mul_mod_fp(load_u64_as_pd(a + i), load_u64_as_pd(b + i), q_inv, c);
    store_pd_as_u64(acc + i, reduce_once(_mm256_add_pd(p, load_u64_as_pd(acc + i)), c.q));
  }
  for (; i < n; ++i) acc[i] = add_mod(acc[i], mul_mod(a[i], b[i], q), q.value());
}

void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  if (!fp_applies(q)) return scalar::eltwise_mul_scalar_mod(out, a, w, n, q);
  const FpConsts c(q.value());
  const __m256d vw = _mm256_set1_pd(static_cast<double>(w.value));
  const __m256d vwq = _mm256_set1_pd(static_cast<double>(w.value) / static_cast<double>(q.value()));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    store_pd_as_u64(out + i, reduce_once(mul_mod_lazy(load_u64_as_pd(a + i), vw, vwq, c), c.q));
  }
  for (; i < n; ++i) out[i] = mul_mod_shoup(a[i], w, q.value());
}

void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  if (!fp_applies(q)) return scalar::eltwise_fma_scalar_mod(acc, a, w, n, q);
  const FpConsts c(q.value());
  const __m256d vw = _mm256_set1_pd(static_cast<double>(w.value));
  const __m256d vwq = _mm256_set1_pd(static_cast<double>(w.value) / static_cast<double>(q.value()));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d t = reduce_once(mul_mod_lazy(load_u64_as_pd(a + i), vw, vwq, c), c.q);
    store_pd_as_u64(acc + i, reduce_once(_mm256_add_pd(load_u64_as_pd(acc + i), t), c.q));
  }
  for (; i < n; ++i) acc[i] = add_mod(acc[i], mul_mod_shoup(a[i], w, q.value()), q.value());
}

// Dot product over k rows with signed lazy accumulation: each term y*w mod q is a signed
// remainder in (-1.5q, 1.5q) (exact for any y < 2^52: the quotient estimate y*(w/q) is below 2^52
// with error < 1), and the sum is reduced to [-0.51q, 0.51q] after every 4 terms, so it stays
// below 6.51q < 2^53 and exact. About 8 flops per term instead of a reduced multiply-add pass.
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q) {
  if (!fp_applies(q) || k > 64) return scalar::eltwise_dot_scalar_mod(out, rows, w, k, n, q);
  const FpConsts c(q.value());
  const double qd = static_cast<double>(q.value());
  const __m256d q_inv = _mm256_set1_pd(1.0 / qd);
  double wv[64], wq[64];
  for (std::size_t i = 0; i < k; ++i) {
    wv[i] = static_cast<double>(w[i].value);
    wq[i] = wv[i] / qd;
  }
  std::size_t c0 = 0;
  for (; c0 + 8 <= n; c0 += 8) {
    __m256d acc0 = c.zero, acc1 = c.zero;
    for (std::size_t i = 0; i < k;) {
      for (const std::size_t end = std::min(k, i + 4); i < end; ++i) {
        const __m256d vw = _mm256_broadcast_sd(wv + i), vq = _mm256_broadcast_sd(wq + i);
        acc0 = _mm256_add_pd(acc0, mul_mod_signed(load_u64_as_pd(rows[i] + c0), vw, vq, c));
        acc1 = _mm256_add_pd(acc1, mul_mod_signed(load_u64_as_pd(rows[i] + c0 + 4), vw, vq, c));
      }
      acc0 = reduce_signed(acc0, q_inv, c);
      acc1 = reduce_signed(acc1, q_inv, c);
    }
    store_pd_as_u64(out + c0, to_canonical(acc0, q_inv, c));
    store_pd_as_u64(out + c0 + 4, to_canonical(acc1, q_inv, c));
  }
  for (; c0 < n; ++c0) {
    u128 s = 0;
    for (std::size_t i = 0; i < k; ++i) s += static_cast<u128>(rows[i][c0]) * w[i].value;
    out[c0] = q.reduce128(static_cast<std::uint64_t>(s >> 64), static_cast<std::uint64_t>(s));
  }
}

// Lazy small-weight multiply-add in 64-bit integer lanes (the double-precision trick above is not
// needed: nothing is reduced). AVX2 multiplies only 32 x 32 -> 64 bits, so with x = x_hi * 2^32 +
// x_lo and |w| < 2^32: w * x = w * x_lo + ((w * x_hi) << 32) modulo 2^64, which is the exact
// product whenever it is below 2^64 (the caller's bound). Two multiplies, a shift and two adds per
// lane; 8 lanes per iteration for two independent chains.
namespace {
template <bool kNeg>
void mac_small_lanes(std::uint64_t* acc, const std::uint64_t* x, std::uint64_t a, std::uint64_t qv,
                     std::size_t n) {
  const __m256i va = _mm256_set1_epi64x(static_cast<long long>(a));
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(qv));
  auto term = [&](const std::uint64_t* p) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (kNeg) v = _mm256_sub_epi64(vq, v);
    const __m256i lo = _mm256_mul_epu32(v, va);
    const __m256i hi = _mm256_mul_epu32(_mm256_srli_epi64(v, 32), va);
    return _mm256_add_epi64(lo, _mm256_slli_epi64(hi, 32));
  };
  auto add_to = [](std::uint64_t* p, __m256i t) {
    __m256i* pv = reinterpret_cast<__m256i*>(p);
    _mm256_storeu_si256(pv, _mm256_add_epi64(_mm256_loadu_si256(pv), t));
  };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i t0 = term(x + i), t1 = term(x + i + 4);
    add_to(acc + i, t0);
    add_to(acc + i + 4, t1);
  }
  for (; i < n; ++i) acc[i] += a * (kNeg ? qv - x[i] : x[i]);
}
}  // namespace

void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q) {
  if (w >= 0) return mac_small_lanes<false>(acc, x, static_cast<std::uint64_t>(w), 0, n);
  mac_small_lanes<true>(acc, x, 0 - static_cast<std::uint64_t>(w), q.value(), n);
}

void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  // Full 64-bit inputs do not fit a double: the scalar Barrett is used.
  scalar::eltwise_reduce_mod(out, a, n, q);
}

}  // namespace leukocrypt::he::avx2
