// Internal: the AVX-512 IFMA kernel bodies (NTT and element-wise) for moduli q < 2^50, written
// once against ifma_ops.h and compiled twice: for real in *_avx512ifma.cpp, and with the
// emulated backend in the tests. The including file defines LC_IFMA_NAMESPACE.
//
// Method (as Intel HEXL): every value stays below 2^52 (lazy ranges [0, 4q) with q < 2^50), so a
// 52-bit Shoup operand w' = floor(w * 2^52 / q) and the 52-bit multiply-high/low instructions
// vpmadd52huq/vpmadd52luq give Harvey's lazy products with one instruction per half.
// Larger moduli, and n < 16, fall back to the scalar kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/kernels/eltwise.h"
#include "he/kernels/ifma_ops.h"
#include "he/kernels/ntt.h"

#ifndef LC_IFMA_NAMESPACE
#error "define LC_IFMA_NAMESPACE before including ifma_kernels_impl.h"
#endif

namespace leukocrypt::he::LC_IFMA_NAMESPACE {

namespace ops = LC_IFMA_OPS;
using ops::V8;

namespace {

constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1;

// floor(w * 2^52 / q): the 52-bit Shoup quotient of w in [0, q).
inline std::uint64_t shoup_quotient52(std::uint64_t w, std::uint64_t q) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(w) << 52) / q);
}

struct Consts {
  explicit Consts(std::uint64_t qv)
      : q(ops::set1(qv)), two_q(ops::set1(2 * qv)),
        neg_q(ops::set1((std::uint64_t{0} - qv) & kMask52)), mask52(ops::set1(kMask52)),
        zero(ops::set1(0)) {}
  V8 q, two_q, neg_q, mask52, zero;
};

// x mod bound for x in [0, 2 * bound): min(x, x - bound) as unsigned (x - bound wraps when x < bound).
inline V8 reduce_once(V8 x, V8 bound) { return ops::min_u64(x, ops::sub(x, bound)); }

// Harvey 2014, Algorithm 2 with beta = 2^52: y * w mod q in [0, 2q) for y < 2^52.
inline V8 mul_shoup_lazy52(V8 y, V8 w, V8 w_quo, const Consts& c) {
  using namespace ops;
  V8 quot = madd52hi(c.zero, w_quo, y);  // 1. floor(y * w' / 2^52)
  V8 wy = madd52lo(c.zero, w, y);        // 2. y * w mod 2^52
  V8 r = madd52lo(wy, quot, c.neg_q);    // 3. y * w - quot * q mod 2^52, in [0, 2q) < 2^52
  return bit_and(r, c.mask52);
}

// Cooley-Tukey butterfly, Harvey 2014 Algorithm 4: x, y in [0, 4q) -> x + wy, x - wy in [0, 4q).
inline void forward_butterfly(V8& x, V8& y, V8 w, V8 w_quo, const Consts& c) {
  using namespace ops;
  V8 xr = reduce_once(x, c.two_q);          // 1. x in [0, 2q)
  V8 t = mul_shoup_lazy52(y, w, w_quo, c);  // 2. t = w * y in [0, 2q)
  x = add(xr, t);                           // 3. [0, 4q)
  y = add(sub(xr, t), c.two_q);             //    [0, 4q)
}

// Gentleman-Sande butterfly: x, y in [0, 2q) -> x + y, (x - y) * w in [0, 2q).
inline void inverse_butterfly(V8& x, V8& y, V8 w, V8 w_quo, const Consts& c) {
  using namespace ops;
  V8 d = add(sub(x, y), c.two_q);           // (0, 4q)
  x = reduce_once(add(x, y), c.two_q);
  y = mul_shoup_lazy52(d, w, w_quo, c);
}

// Lane permutations for the stages with t = 4, 2, 1, where a butterfly block (2t elements) fits in
// one 16-element chunk held in two vectors v0 = e[0..7], v1 = e[8..15]. x_idx/y_idx gather the
// butterfly inputs (index < 8 from v0, >= 8 from v1); back0/back1 scatter them back; w_idx
// spreads the chunk's twiddles over the lanes of x.
struct ChunkStage {
  V8 x_idx, y_idx, back0, back1, w_idx;
};

inline ChunkStage chunk_stage(std::size_t t) {
  using ops::set8;
  if (t == 4) {
    return {set8(0, 1, 2, 3, 8, 9, 10, 11), set8(4, 5, 6, 7, 12, 13, 14, 15),
            set8(0, 1, 2, 3, 8, 9, 10, 11), set8(4, 5, 6, 7, 12, 13, 14, 15),
            set8(0, 0, 0, 0, 1, 1, 1, 1)};
  }
  if (t == 2) {
    return {set8(0, 1, 4, 5, 8, 9, 12, 13), set8(2, 3, 6, 7, 10, 11, 14, 15),
            set8(0, 1, 8, 9, 2, 3, 10, 11), set8(4, 5, 12, 13, 6, 7, 14, 15),
            set8(0, 0, 1, 1, 2, 2, 3, 3)};
  }
  return {set8(0, 2, 4, 6, 8, 10, 12, 14), set8(1, 3, 5, 7, 9, 11, 13, 15),
          set8(0, 8, 1, 9, 2, 10, 3, 11), set8(4, 12, 5, 13, 6, 14, 7, 15),
          set8(0, 1, 2, 3, 4, 5, 6, 7)};
}

// One stage (block size 2t, t <= 4) on chunk k (elements 16k..16k+15); the stage has m = n / (2t)
// blocks and chunk k holds blocks 8k/t .. 8k/t + 8/t - 1.
template <bool kForward>
inline void chunk_butterflies(V8& v0, V8& v1, const ChunkStage& s, const std::uint64_t* w_val,
                              const std::uint64_t* w_quo, std::size_t first_block,
                              const Consts& c) {
  using namespace ops;
  V8 w = permute(s.w_idx, load(w_val + first_block));
  V8 wq = permute(s.w_idx, load(w_quo + first_block));
  V8 x = permute2(v0, s.x_idx, v1);
  V8 y = permute2(v0, s.y_idx, v1);
  if constexpr (kForward) forward_butterfly(x, y, w, wq, c);
  else inverse_butterfly(x, y, w, wq, c);
  v0 = permute2(x, s.back0, y);
  v1 = permute2(x, s.back1, y);
}

template <bool kReduce>
void forward_ntt_ifma(std::uint64_t* a, const NttTables& tables) {
  using namespace ops;
  const std::size_t n = tables.n();
  const Consts c(tables.modulus().value());
  const std::uint64_t* w_val = tables.root_values();
  const std::uint64_t* w_quo = tables.root_quotients52();
  // 1. Stages with t >= 8: block i of stage m uses psi^bitrev(m + i), eight lanes at a time.
  std::size_t m = 1;
  for (std::size_t t = n / 2; t >= 8; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const V8 w = set1(w_val[m + i]), wq = set1(w_quo[m + i]);
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 8) {
        V8 vx = load(x + j), vy = load(y + j);
        forward_butterfly(vx, vy, w, wq, c);
        store(x + j, vx);
        store(y + j, vy);
      }
    }
  }
  // 2. The last three stages (t = 4, 2, 1; m = n/8, n/4, n/2) chunk by chunk in registers.
  const ChunkStage s4 = chunk_stage(4), s2 = chunk_stage(2), s1 = chunk_stage(1);
  for (std::size_t k = 0; k < n / 16; ++k) {
    V8 v0 = load(a + 16 * k), v1 = load(a + 16 * k + 8);
    chunk_butterflies<true>(v0, v1, s4, w_val, w_quo, n / 8 + 2 * k, c);
    chunk_butterflies<true>(v0, v1, s2, w_val, w_quo, n / 4 + 4 * k, c);
    chunk_butterflies<true>(v0, v1, s1, w_val, w_quo, n / 2 + 8 * k, c);
    // 3. Optionally reduce [0, 4q) -> [0, q).
    if constexpr (kReduce) {
      v0 = reduce_once(reduce_once(v0, c.two_q), c.q);
      v1 = reduce_once(reduce_once(v1, c.two_q), c.q);
    }
    store(a + 16 * k, v0);
    store(a + 16 * k + 8, v1);
  }
}

}  // namespace

void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables) {
  if (!tables.has_ifma_quotients() || tables.n() < 16) return scalar::forward_ntt_lazy(a, tables);
  forward_ntt_ifma<false>(a, tables);
}

void forward_ntt(std::uint64_t* a, const NttTables& tables) {
  if (!tables.has_ifma_quotients() || tables.n() < 16) return scalar::forward_ntt(a, tables);
  forward_ntt_ifma<true>(a, tables);
}

void inverse_ntt(std::uint64_t* a, const NttTables& tables) {
  using namespace ops;
  if (!tables.has_ifma_quotients() || tables.n() < 16) return scalar::inverse_ntt(a, tables);
  const std::size_t n = tables.n();
  const std::uint64_t qv = tables.modulus().value();
  const Consts c(qv);
  const std::uint64_t* w_val = tables.inv_root_values();
  const std::uint64_t* w_quo = tables.inv_root_quotients52();
  // 1. The first three stages (t = 1, 2, 4; m = n/2, n/4, n/8) chunk by chunk in registers.
  const ChunkStage s4 = chunk_stage(4), s2 = chunk_stage(2), s1 = chunk_stage(1);
  for (std::size_t k = 0; k < n / 16; ++k) {
    V8 v0 = load(a + 16 * k), v1 = load(a + 16 * k + 8);
    chunk_butterflies<false>(v0, v1, s1, w_val, w_quo, n / 2 + 8 * k, c);
    chunk_butterflies<false>(v0, v1, s2, w_val, w_quo, n / 4 + 4 * k, c);
    chunk_butterflies<false>(v0, v1, s4, w_val, w_quo, n / 8 + 2 * k, c);
    store(a + 16 * k, v0);
    store(a + 16 * k + 8, v1);
  }
  // 2. Stages with t >= 8 except the last: block i of stage m uses psi^-bitrev(m + i).
  std::size_t t = 8;
  for (std::size_t m = n / 16; m > 1; m >>= 1, t <<= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const V8 w = set1(w_val[m + i]), wq = set1(w_quo[m + i]);
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 8) {
        V8 vx = load(x + j), vy = load(y + j);
        inverse_butterfly(vx, vy, w, wq, c);
        store(x + j, vx);
        store(y + j, vy);
      }
    }
  }
  // 3. Last stage (m = 1, t = n/2) with 1/n folded into both outputs, reduced to [0, q).
  const ShoupOperand inv_n = tables.inv_n(), inv_n_w = tables.inv_n_root();
  const V8 f = set1(inv_n.value), fq = set1(shoup_quotient52(inv_n.value, qv));
  const V8 g = set1(inv_n_w.value), gq = set1(shoup_quotient52(inv_n_w.value, qv));
  std::uint64_t* x = a;
  std::uint64_t* y = a + t;
  for (std::size_t j = 0; j < t; j += 8) {
    V8 vx = load(x + j), vy = load(y + j);
    V8 s = add(vx, vy);                   // [0, 4q)
    V8 d = add(sub(vx, vy), c.two_q);     // (0, 4q)
    store(x + j, reduce_once(mul_shoup_lazy52(s, f, fq, c), c.q));
    store(y + j, reduce_once(mul_shoup_lazy52(d, g, gq, c), c.q));
  }
}

// ---- element-wise -------------------------------------------------------------------------

namespace {

bool ifma_applies(const Modulus& q) { return q.bit_count() <= kIfmaMaxModulusBits; }

// Barrett reduction of x = hi * 2^52 + lo < 2^(2L) modulo q of L <= 50 bits (HAC 14.42 with
// radix 2): quotient estimate floor(floor(x / 2^(L-1)) * mu / 2^(L+1)), mu = floor(2^(2L) / q),
// is at most 2 below the true quotient, so two conditional subtractions finish.
struct Barrett52 {
  explicit Barrett52(const Modulus& q) : c(q.value()) {
    const int l = q.bit_count();
    mu = ops::set1(static_cast<std::uint64_t>((static_cast<unsigned __int128>(1) << (2 * l)) /
                                                    q.value()));
    sh_hi1 = ops::set1(53 - l);
    sh_lo1 = ops::set1(l - 1);
    sh_hi2 = ops::set1(51 - l);
    sh_lo2 = ops::set1(l + 1);
  }
  V8 reduce(V8 hi, V8 lo) const {
    using namespace ops;
    V8 c1 = bit_or(shl(hi, sh_hi1), shr(lo, sh_lo1));  // 1. floor(x / 2^(L-1)) < 2^(L+1)
    V8 hi2 = madd52hi(c.zero, c1, mu);                  // 2. c1 * mu, split at bit 52
    V8 lo2 = madd52lo(c.zero, c1, mu);
    V8 c3 = bit_or(shl(hi2, sh_hi2), shr(lo2, sh_lo2)); // 3. quotient estimate
    V8 r = bit_and(madd52lo(lo, c3, c.neg_q), c.mask52); // 4. x - c3 * q in [0, 3q)
    return reduce_once(reduce_once(r, c.q), c.q);
  }
  Consts c;
  V8 mu, sh_hi1, sh_lo1, sh_hi2, sh_lo2;
};

}  // namespace

void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  using namespace ops;
  const V8 vq = set1(q.value());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store(out + i, reduce_once(add(load(a + i), load(b + i)), vq));
  for (; i < n; ++i) out[i] = add_mod(a[i], b[i], q.value());
}

void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  using namespace ops;
  const V8 vq = set1(q.value());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 d = sub(load(a + i), load(b + i));  // wraps when a < b; then d + q is the answer
    store(out + i, min_u64(d, add(d, vq)));
  }
  for (; i < n; ++i) out[i] = sub_mod(a[i], b[i], q.value());
}

void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  using namespace ops;
  const V8 vq = set1(q.value());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store(out + i, reduce_once(sub(vq, load(a + i)), vq));  // q - 0 -> 0
  for (; i < n; ++i) out[i] = neg_mod(a[i], q.value());
}

void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,
                            std::size_t n, const Modulus& q) {
  using namespace ops;
  const V8 vq = set1(q.value()), vc = set1(c);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store(out + i, reduce_once(add(load(a + i), vc), vq));
  for (; i < n; ++i) out[i] = add_mod(a[i], c, q.value());
}

void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  using namespace ops;
  if (!ifma_applies(q)) return scalar::eltwise_mul_mod(out, a, b, n, q);
  const Barrett52 br(q);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 va = load(a + i), vb = load(b + i);
    V8 hi = madd52hi(br.c.zero, va, vb), lo = madd52lo(br.c.zero, va, vb);
    store(out + i, br.reduce(hi, lo));
  }
  for (; i < n; ++i) out[i] = mul_mod(a[i], b[i], q);
}

void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n, const Modulus& q) {
  using namespace ops;
  if (!ifma_applies(q)) return scalar::eltwise_mul_add_mod(acc, a, b, n, q);
  const Barrett52 br(q);
  const V8 sh52 = set1(52);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 va = load(a + i), vb = load(b + i);
    V8 lo = madd52lo(load(acc + i), va, vb);  // acc + (ab mod 2^52) < 2^53: carry into hi
    V8 hi = add(madd52hi(br.c.zero, va, vb), shr(lo, sh52));
    store(acc + i, br.reduce(hi, bit_and(lo, br.c.mask52)));
  }
  for (; i < n; ++i) {
    unsigned __int128 p = static_cast<unsigned __int128>(a[i]) * b[i] + acc[i];
    acc[i] = q.reduce128(static_cast<std::uint64_t>(p >> 64), static_cast<std::uint64_t>(p));
  }
}

void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  using namespace ops;
  if (!ifma_applies(q)) return scalar::eltwise_mul_scalar_mod(out, a, w, n, q);
  const Consts c(q.value());
  const V8 vw = set1(w.value), vwq = set1(shoup_quotient52(w.value, q.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store(out + i, reduce_once(mul_shoup_lazy52(load(a + i), vw, vwq, c), c.q));
  for (; i < n; ++i) out[i] = mul_mod_shoup(a[i], w, q.value());
}

void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  using namespace ops;
  if (!ifma_applies(q)) return scalar::eltwise_fma_scalar_mod(acc, a, w, n, q);
  const Consts c(q.value());
  const V8 vw = set1(w.value), vwq = set1(shoup_quotient52(w.value, q.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 t = reduce_once(mul_shoup_lazy52(load(a + i), vw, vwq, c), c.q);
    store(acc + i, reduce_once(add(load(acc + i), t), c.q));
  }
  for (; i < n; ++i) acc[i] = add_mod(acc[i], mul_mod_shoup(a[i], w, q.value()), q.value());
}

void eltwise_fma_lazy_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                          std::size_t n, const Modulus& q) {
  using namespace ops;
  if (!ifma_applies(q)) return scalar::eltwise_fma_lazy_mod(acc, a, w, n, q);
  const Consts c(q.value());
  const V8 vw = set1(w.value), vwq = set1(shoup_quotient52(w.value, q.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store(acc + i, add(load(acc + i), mul_shoup_lazy52(load(a + i), vw, vwq, c)));
  for (; i < n; ++i) acc[i] += mul_mod_shoup(a[i], w, q.value());
}

// Base-conversion dot product (eltwise.h): per term a lazy 52-bit Shoup product in [0, 2q), the
// running sum kept in [0, 2q) by one conditional subtraction, the result reduced once more. Rows
// below 2^52 (the contract) are exactly the 52-bit multiplier's domain.
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows, const ShoupOperand* w,
                            std::size_t k, std::size_t n, const Modulus& q) {
  using namespace ops;
  if (!ifma_applies(q) || k > 64) return scalar::eltwise_dot_scalar_mod(out, rows, w, k, n, q);
  const Consts c(q.value());
  V8 vw[64], vwq[64];
  for (std::size_t t = 0; t < k; ++t) {
    vw[t] = set1(w[t].value);
    vwq[t] = set1(shoup_quotient52(w[t].value, q.value()));
  }
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 acc = c.zero;
    for (std::size_t t = 0; t < k; ++t)
      acc = reduce_once(add(acc, mul_shoup_lazy52(load(rows[t] + i), vw[t], vwq[t], c)), c.two_q);
    store(out + i, reduce_once(acc, c.q));
  }
  if (i == n) return;
  const std::uint64_t* tail[64];
  for (std::size_t t = 0; t < k; ++t) tail[t] = rows[t] + i;
  scalar::eltwise_dot_scalar_mod(out + i, tail, w, k, n - i, q);
}

namespace {

// (hi * 2^52 + lo) mod q for the dense product's lane sums (hi < 2^60, lo < 2^64), in [0, q):
// hi + (lo >> 52) = h1 * 2^52 + h0 (h1 < 2^9), so the value is h1 * 2^104 + h0 * 2^52 + (lo mod 2^52),
// three lazy Shoup products (< 6q together) and three conditional subtractions.
struct LaneSumReduce {
  explicit LaneSumReduce(const Modulus& q)
      : c(q.value()), four_q(ops::set1(4 * q.value())), s52(ops::set1(52)),
        r52(ops::set1(pow_mod(2, 52, q))), r52q(ops::set1(shoup_quotient52(pow_mod(2, 52, q), q.value()))),
        r104(ops::set1(pow_mod(2, 104, q))), r104q(ops::set1(shoup_quotient52(pow_mod(2, 104, q), q.value()))),
        one(ops::set1(1)), oneq(ops::set1(shoup_quotient52(1, q.value()))) {}
  V8 operator()(V8 hi, V8 lo) const {
    using namespace ops;
    const V8 h = add(hi, shr(lo, s52));
    V8 t = add(mul_shoup_lazy52(bit_and(h, c.mask52), r52, r52q, c), mul_shoup_lazy52(shr(h, s52), r104, r104q, c));
    t = add(t, mul_shoup_lazy52(bit_and(lo, c.mask52), one, oneq, c));
    return reduce_once(reduce_once(reduce_once(t, four_q), c.two_q), c.q);
  }
  Consts c;
  V8 four_q, s52, r52, r52q, r104, r104q, one, oneq;
};

// T outputs over 8 coefficients at c: lanes sum the low and the high 52-bit halves of w * x apart
// (k <= kMatmulMaxTerms: low sums < 2^64, high sums < 2^60), then each lane is reduced once.
template <std::size_t T>
void matmul_tile(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                 std::size_t k, std::size_t c, const LaneSumReduce& red) {
  using namespace ops;
  V8 lo[T], hi[T];
  for (std::size_t t = 0; t < T; ++t) lo[t] = hi[t] = set1(0);
  for (std::size_t j = 0; j < k; ++j) {
    const V8 x = load(rows[j] + c);
    for (std::size_t t = 0; t < T; ++t) {
      const V8 wv = set1(w[t * k + j]);
      lo[t] = madd52lo(lo[t], x, wv);
      hi[t] = madd52hi(hi[t], x, wv);
    }
  }
  for (std::size_t t = 0; t < T; ++t) store(out[t] + c, red(hi[t], lo[t]));
}

template <std::size_t T>
void matmul_rows(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                 std::size_t k, std::size_t n, const LaneSumReduce& red) {
  for (std::size_t c = 0; c < n; c += 8) matmul_tile<T>(out, rows, w, k, c, red);
}

}  // namespace

void eltwise_matmul_mod(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                        std::size_t m, std::size_t k, std::size_t n, const Modulus& q) {
  if (!ifma_applies(q) || n % 8 != 0 || k > kMatmulMaxTerms) return scalar::eltwise_matmul_mod(out, rows, w, m, k, n, q);
  const LaneSumReduce red(q);
  std::size_t o = 0;
  for (; o + 8 <= m; o += 8) matmul_rows<8>(out + o, rows, w + o * k, k, n, red);
  // The rest as one tile (a convolution's 5 maps at one position: one load for 5 outputs).
  switch (m - o) {
    case 7: return matmul_rows<7>(out + o, rows, w + o * k, k, n, red);
    case 6: return matmul_rows<6>(out + o, rows, w + o * k, k, n, red);
    case 5: return matmul_rows<5>(out + o, rows, w + o * k, k, n, red);
    case 4: return matmul_rows<4>(out + o, rows, w + o * k, k, n, red);
    case 3: return matmul_rows<3>(out + o, rows, w + o * k, k, n, red);
    case 2: return matmul_rows<2>(out + o, rows, w + o * k, k, n, red);
    case 1: return matmul_rows<1>(out + o, rows, w + o * k, k, n, red);
    default: return;
  }
}

void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  // Full 64-bit inputs, split at bit 52: a = h * 2^52 + l (h < 2^12) = h * (2^52 mod q) + l (mod q),
  // two lazy Shoup products (< 4q together) and two conditional subtractions.
  using namespace ops;
  if (!ifma_applies(q)) return scalar::eltwise_reduce_mod(out, a, n, q);
  const Consts c(q.value());
  const std::uint64_t r52 = pow_mod(2, 52, q);
  const V8 vr = set1(r52), vrq = set1(shoup_quotient52(r52, q.value())), one = set1(1),
           oneq = set1(shoup_quotient52(1, q.value())), s52 = set1(52);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V8 x = load(a + i);
    const V8 t = add(mul_shoup_lazy52(shr(x, s52), vr, vrq, c), mul_shoup_lazy52(bit_and(x, c.mask52), one, oneq, c));
    store(out + i, reduce_once(reduce_once(t, c.two_q), c.q));
  }
  for (; i < n; ++i) out[i] = q.reduce(a[i]);
}

}  // namespace leukocrypt::he::LC_IFMA_NAMESPACE
