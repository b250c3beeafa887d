// Key switching (see key_switch.h). Two paths: every prime below 2^50 runs on the SIMD kernels
// (dispatch), otherwise a portable path accumulates in 128 bits and reduces once.
#include "he/rlwe/key_switch.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"

namespace leukocrypt::rlwe {
namespace {

// Scratch slots used here: 3 (digits), 4 (NTT-form rounding term), 5 (accumulators). Callers keep
// their own data in other slots.

// [x]_p centred, reduced mod q: the rounding term of the division by p, for a row of values
// x in [0, p).
void centred_mod(const std::uint64_t* x, std::uint64_t* out, std::size_t n, std::uint64_t p, const Modulus& q,
                 std::uint64_t p_mod_q) {
  const std::uint64_t half_p = p >> 1, qv = q.value();
  for (std::size_t c = 0; c < n; ++c) {
    std::uint64_t r = q.reduce(x[c]);
    out[c] = x[c] > half_p ? he::sub_mod(r, p_mod_q, qv) : r;
  }
}

// Portable path. Inner product <decomp(d), key> mod target prime j (j = sp: special):
// 1. every digit [d]_{q_i} reduced mod the target and transformed (lazy: values in [0, 4q));
// 2. coefficient blocks accumulate sum_i digit_i * key_i in 128 bits (< l * 4q^2 < 2^128) and
//    reduce once (as SEAL does), keeping the accumulators in L1 even at N = 32768.
// Results stay in the NTT domain.
void inner_portable(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                    const KeySwitchKey& key, std::size_t l, std::size_t j, std::uint64_t* o0, std::uint64_t* o1) {
  const std::size_t n = ring.n();
  const Modulus& m = ring.modulus(j);
  const NttTables& ntt = ring.ntt(j);
  std::uint64_t* digits = he::scratch(3, l * n);
  for (std::size_t i = 0; i < l; ++i) {
    const std::uint64_t* di = d + i * n;
    std::uint64_t* ti = digits + i * n;
    if (d_ntt && i == j) {
      std::memcpy(ti, d_ntt + i * n, n * sizeof(std::uint64_t));
      continue;
    }
    if (ring.modulus(i).value() <= m.value()) std::memcpy(ti, di, n * sizeof(std::uint64_t));
    else he::eltwise_reduce_mod(ti, di, n, m);
    he::forward_ntt_lazy(ti, ntt);
  }
  constexpr std::size_t kBlock = 256;
  he::u128 w0[kBlock], w1[kBlock];
  for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
    const std::size_t bn = std::min(kBlock, n - b0);
    for (std::size_t c = 0; c < bn; ++c) w0[c] = w1[c] = 0;
    for (std::size_t i = 0; i < l; ++i) {
      const std::uint64_t* ti = digits + i * n + b0;
      const std::uint64_t* kb = key.data(i, 0, j) + b0;
      const std::uint64_t* ka = key.data(i, 1, j) + b0;
      for (std::size_t c = 0; c < bn; ++c) {
        w0[c] += static_cast<he::u128>(ti[c]) * kb[c];
        w1[c] += static_cast<he::u128>(ti[c]) * ka[c];
      }
    }
    for (std::size_t c = 0; c < bn; ++c) {
      o0[b0 + c] = m.reduce128(static_cast<std::uint64_t>(w0[c] >> 64), static_cast<std::uint64_t>(w0[c]));
      o1[b0 + c] = m.reduce128(static_cast<std::uint64_t>(w1[c] >> 64), static_cast<std::uint64_t>(w1[c]));
    }
  }
}

void key_switch_portable(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                         const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, std::size_t l,
                         bool ntt_output) {
  const std::size_t n = ring.n(), sp = ring.special_index();
  std::uint64_t* accp = he::scratch(5, 4 * n);
  std::uint64_t* accp0 = accp;
  std::uint64_t* accp1 = accp + n;
  std::uint64_t* acc0 = accp + 2 * n;
  std::uint64_t* acc1 = accp + 3 * n;
  std::uint64_t* rnd = he::scratch(4, 2 * n);
  inner_portable(ring, d, d_ntt, key, l, sp, accp0, accp1);
  he::inverse_ntt(accp0, ring.ntt(sp));
  he::inverse_ntt(accp1, ring.ntt(sp));
  const std::uint64_t p = ring.modulus(sp).value();
  for (std::size_t j = 0; j < l; ++j) {
    inner_portable(ring, d, d_ntt, key, l, j, acc0, acc1);
    const Modulus& q = ring.modulus(j);
    const std::uint64_t qv = q.value();
    const ShoupOperand p_inv = ring.special_inv_mod_q()[j];
    centred_mod(accp0, rnd, n, p, q, ring.special_mod_q()[j]);
    centred_mod(accp1, rnd + n, n, p, q, ring.special_mod_q()[j]);
    if (ntt_output) {
      he::forward_ntt(rnd, ring.ntt(j));
      he::forward_ntt(rnd + n, ring.ntt(j));
    } else {
      he::inverse_ntt(acc0, ring.ntt(j));
      he::inverse_ntt(acc1, ring.ntt(j));
    }
    // Divide by p with rounding: (x - [x]_p centred) * p^-1 mod q_j.
    std::uint64_t* out0 = c0 + j * n;
    std::uint64_t* out1 = c1 + j * n;
    for (std::size_t c = 0; c < n; ++c) {
      out0[c] = he::add_mod(out0[c], he::mul_mod_shoup(he::sub_mod(acc0[c], rnd[c], qv), p_inv, qv), qv);
      out1[c] = he::add_mod(out1[c], he::mul_mod_shoup(he::sub_mod(acc1[c], rnd[n + c], qv), p_inv, qv), qv);
    }
  }
}

// (o0, o1) = digit * key digit i mod prime j (i == 0), += otherwise: one digit's inner-product term.
void digit_times_key(const std::uint64_t* digit, const KeySwitchKey& key, std::size_t i, std::size_t j,
                     const Modulus& m, std::size_t n, std::uint64_t* o0, std::uint64_t* o1) {
  if (i == 0) {
    he::eltwise_mul_mod(o0, digit, key.data(i, 0, j), n, m);
    he::eltwise_mul_mod(o1, digit, key.data(i, 1, j), n, m);
  } else {
    he::eltwise_mul_add_mod(o0, digit, key.data(i, 0, j), n, m);
    he::eltwise_mul_add_mod(o1, digit, key.data(i, 1, j), n, m);
  }
}

// Every prime below 2^50: everything on the SIMD kernels. Per target prime j, each digit is
// reduced, transformed and multiplied into the two accumulators right away (one digit buffer,
// hot in L2, instead of l digit rows streamed through L3). Results stay in the NTT domain.
void inner_simd(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt, const KeySwitchKey& key,
                std::size_t l, std::size_t j, std::uint64_t* o0, std::uint64_t* o1) {
  const std::size_t n = ring.n();
  const Modulus& m = ring.modulus(j);
  const NttTables& ntt = ring.ntt(j);
  const ShoupOperand one = he::make_shoup(1, m.value());
  std::uint64_t* buf = he::scratch(3, n);
  for (std::size_t i = 0; i < l; ++i) {
    const std::uint64_t* di = d + i * n;  // digit i: [d]_{q_i}, in [0, q_i), q_i < 2^50
    const std::uint64_t* digit = buf;
    if (d_ntt && i == j) {
      digit = d_ntt + i * n;
    } else {
      if (ring.modulus(i).value() <= m.value()) std::memcpy(buf, di, n * sizeof(std::uint64_t));
      else he::eltwise_mul_scalar_mod(buf, di, one, n, m);
      he::forward_ntt(buf, ntt);
    }
    digit_times_key(digit, key, i, j, m, n, o0, o1);
  }
}

// The division by p is one dot product per output row: out += (acc_j - [x]_p) * p^-1 with
// [x]_p centred as y - h, y = (x + h) mod p, h = (p - 1) / 2. Coefficient form:
// out = out * 1 + (acc_j + h) * p^-1 + y * (-p^-1). NTT form: y - h is formed per coefficient
// mod q_j and transformed, then out = out * 1 + acc_j * p^-1 + NTT(y - h) * (-p^-1).
void key_switch_simd(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                     const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, std::size_t l, bool ntt_output) {
  const std::size_t n = ring.n(), sp = ring.special_index();
  std::uint64_t* acc = he::scratch(5, 4 * n);
  std::uint64_t* y0 = acc;
  std::uint64_t* y1 = acc + n;
  std::uint64_t* a0 = acc + 2 * n;
  std::uint64_t* a1 = acc + 3 * n;
  std::uint64_t* yq = he::scratch(4, 2 * n);
  inner_simd(ring, d, d_ntt, key, l, sp, y0, y1);
  he::inverse_ntt(y0, ring.ntt(sp));
  he::inverse_ntt(y1, ring.ntt(sp));
  const Modulus& p = ring.modulus(sp);
  const std::uint64_t h = (p.value() - 1) / 2;
  he::eltwise_add_scalar_mod(y0, y0, h, n, p);
  he::eltwise_add_scalar_mod(y1, y1, h, n, p);
  for (std::size_t j = 0; j < l; ++j) {
    inner_simd(ring, d, d_ntt, key, l, j, a0, a1);
    const Modulus& q = ring.modulus(j);
    const std::uint64_t qv = q.value();
    const ShoupOperand p_inv = ring.special_inv_mod_q()[j];
    const ShoupOperand w[3] = {he::make_shoup(1, qv), p_inv, he::make_shoup(qv - p_inv.value, qv)};
    const std::uint64_t h_mod = q.reduce(h);
    const std::uint64_t* r0 = y0;
    const std::uint64_t* r1 = y1;
    if (ntt_output) {
      // The centred term y - h mod q_j, every coefficient, then into the NTT domain.
      const ShoupOperand one = he::make_shoup(1, qv);
      for (std::size_t k = 0; k < 2; ++k) {
        std::uint64_t* t = yq + k * n;
        he::eltwise_mul_scalar_mod(t, k == 0 ? y0 : y1, one, n, q);
        he::eltwise_add_scalar_mod(t, t, he::neg_mod(h_mod, qv), n, q);
        he::forward_ntt(t, ring.ntt(j));
      }
      r0 = yq;
      r1 = yq + n;
    } else {
      he::inverse_ntt(a0, ring.ntt(j));
      he::inverse_ntt(a1, ring.ntt(j));
      he::eltwise_add_scalar_mod(a0, a0, h_mod, n, q);
      he::eltwise_add_scalar_mod(a1, a1, h_mod, n, q);
    }
    std::uint64_t* out0 = c0 + j * n;
    std::uint64_t* out1 = c1 + j * n;
    const std::uint64_t* rows0[3] = {out0, a0, r0};
    const std::uint64_t* rows1[3] = {out1, a1, r1};
    he::eltwise_dot_scalar_mod(out0, rows0, w, 3, n, q);
    he::eltwise_dot_scalar_mod(out1, rows1, w, 3, n, q);
  }
}

// The division by p with rounding for target q_j in the NTT domain, both components:
// c_k row j += (a_k - NTT([y_k]_p centred)) * p^-1 mod q_j, with y_k the products mod p in
// coefficients and a_k those mod q_j (NTT domain). rnd: 2n values of scratch.
void add_divided_by_p_ntt(const RingContext& ring, std::size_t j, const std::uint64_t* const y[2],
                          const std::uint64_t* const a[2], std::uint64_t* const c[2], std::uint64_t* rnd) {
  const std::size_t n = ring.n();
  const Modulus& q = ring.modulus(j);
  const std::uint64_t p = ring.modulus(ring.special_index()).value();
  for (std::size_t k = 0; k < 2; ++k) {
    std::uint64_t* r = rnd + k * n;
    centred_mod(y[k], r, n, p, q, ring.special_mod_q()[j]);
    he::forward_ntt(r, ring.ntt(j));
    he::eltwise_sub_mod(r, a[k], r, n, q);
    he::eltwise_fma_scalar_mod(c[k] + j * n, r, ring.special_inv_mod_q()[j], n, q);
  }
}

// Hoisted inner product mod target t (t = level: the special prime): sum_i perm(digit_i) * key_i.
// With a permuted key (GaloisKeys::permute_for_evaluation: perm(key'_i) = key_i), the same value
// as perm(sum_i digit_i * key'_i): the sum first, then its two rows permuted.
void inner_hoisted(const RingContext& ring, const HoistedDigits& hd, const std::uint32_t* index,
                   const KeySwitchKey& key, bool key_permuted, std::size_t t, std::uint64_t* o0, std::uint64_t* o1) {
  const std::size_t n = ring.n(), l = hd.level();
  const std::size_t kj = t == l ? ring.special_index() : t;
  const Modulus& m = ring.modulus(kj);
  if (key_permuted) {
    std::uint64_t* u = he::scratch(3, 2 * n);
    for (std::size_t i = 0; i < l; ++i) digit_times_key(hd.row(t, i), key, i, kj, m, n, u, u + n);
    he::apply_automorphism_ntt(u, o0, n, index);
    he::apply_automorphism_ntt(u + n, o1, n, index);
    return;
  }
  std::uint64_t* buf = he::scratch(3, n);
  for (std::size_t i = 0; i < l; ++i) {
    he::apply_automorphism_ntt(hd.row(t, i), buf, n, index);
    digit_times_key(buf, key, i, kj, m, n, o0, o1);
  }
}

}  // namespace

HoistedDigits::HoistedDigits(const RingContext& ring, const std::uint64_t* d, std::size_t level)
    : n_(ring.n()), level_(level) {
  require(level >= 1 && level <= ring.max_level(), "HoistedDigits: level " + std::to_string(level) +
                                                       " outside 1.." + std::to_string(ring.max_level()));
  rows_.resize((level + 1) * level * n_);
  for (std::size_t t = 0; t <= level; ++t) {
    const std::size_t pj = t == level ? ring.special_index() : t;
    const Modulus& m = ring.modulus(pj);
    for (std::size_t i = 0; i < level; ++i) {
      std::uint64_t* out = rows_.data() + (t * level + i) * n_;
      const std::uint64_t* di = d + i * n_;
      if (ring.modulus(i).value() <= m.value()) std::memcpy(out, di, n_ * sizeof(std::uint64_t));
      else he::eltwise_reduce_mod(out, di, n_, m);
      he::forward_ntt(out, ring.ntt(pj));
    }
  }
}

void key_switch_hoisted_add(const RingContext& ring, const HoistedDigits& hd, const std::uint32_t* index,
                            const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, bool key_permuted) {
  const std::size_t n = ring.n(), L = ring.max_level(), l = hd.level(), sp = ring.special_index();
  require(key.n() == n && key.digits() == L && key.primes() == L + 1, "key switching key has the wrong shape");
  std::uint64_t* acc = he::scratch(5, 4 * n);
  std::uint64_t* y0 = acc;
  std::uint64_t* y1 = acc + n;
  std::uint64_t* a0 = acc + 2 * n;
  std::uint64_t* a1 = acc + 3 * n;
  std::uint64_t* rnd = he::scratch(4, 2 * n);
  inner_hoisted(ring, hd, index, key, key_permuted, l, y0, y1);
  he::inverse_ntt(y0, ring.ntt(sp));
  he::inverse_ntt(y1, ring.ntt(sp));
  const std::uint64_t* const y[2] = {y0, y1};
  const std::uint64_t* const a[2] = {a0, a1};
  std::uint64_t* const c[2] = {c0, c1};
  for (std::size_t j = 0; j < l; ++j) {
    inner_hoisted(ring, hd, index, key, key_permuted, j, a0, a1);
    add_divided_by_p_ntt(ring, j, y, a, c, rnd);
  }
}

void key_switch_add(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                    const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, std::size_t level,
                    bool ntt_output) {
  const std::size_t n = ring.n(), L = ring.max_level();
  require(key.n() == n && key.digits() == L && key.primes() == L + 1, "key switching key has the wrong shape");
  if (ring.all_simd()) key_switch_simd(ring, d, d_ntt, key, c0, c1, level, ntt_output);
  else key_switch_portable(ring, d, d_ntt, key, c0, c1, level, ntt_output);
}

void automorphism_ntt_permuted_key(const RingContext& ring, const std::uint64_t* c0, const std::uint64_t* c1,
                                   std::size_t level, const KeySwitchKey& key, const std::uint32_t* index,
                                   std::uint64_t* r0, std::uint64_t* r1) {
  const std::size_t n = ring.n(), l = level;
  std::uint64_t* c1c = he::scratch(6, l * n);
  std::uint64_t* t = he::scratch(7, 2 * l * n);
  std::memcpy(c1c, c1, l * n * sizeof(std::uint64_t));
  for (std::size_t i = 0; i < l; ++i) he::inverse_ntt(c1c + i * n, ring.ntt(i));
  std::fill(t, t + 2 * l * n, 0);
  key_switch_add(ring, c1c, c1, key, t, t + l * n, l, /*ntt_output=*/true);
  for (std::size_t i = 0; i < l; ++i) {
    he::eltwise_add_mod(t + i * n, t + i * n, c0 + i * n, n, ring.modulus(i));
    he::apply_automorphism_ntt(t + i * n, r0 + i * n, n, index);
    he::apply_automorphism_ntt(t + (l + i) * n, r1 + i * n, n, index);
  }
}

void KeySwitchSum::add(const RingContext& ring, const KeySwitchSum& o) {
  require(o.n_ == n_ && o.level_ == level_, "KeySwitchSum: adding a sum of another shape");
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t t = 0; t <= level_; ++t)
      he::eltwise_add_mod(row(k, t), row(k, t), o.row(k, t), n_, ring.modulus(t == level_ ? ring.special_index() : t));
}

void key_switch_products_add(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                             const KeySwitchKey& key, const std::uint32_t* index, KeySwitchSum& sum) {
  const std::size_t n = ring.n(), L = ring.max_level(), l = sum.level();
  require(key.n() == n && key.digits() == L && key.primes() == L + 1, "key switching key has the wrong shape");
  std::uint64_t* o = he::scratch(5, 2 * n);
  for (std::size_t t = 0; t <= l; ++t) {
    const std::size_t j = t == l ? ring.special_index() : t;
    if (ring.all_simd()) inner_simd(ring, d, d_ntt, key, l, j, o, o + n);
    else inner_portable(ring, d, d_ntt, key, l, j, o, o + n);
    const Modulus& m = ring.modulus(j);
    for (std::size_t k = 0; k < 2; ++k) {
      std::uint64_t* acc = sum.row(k, t);
      const std::uint64_t* ok = o + k * n;
      if (index) {
        const std::uint64_t mv = m.value();
        for (std::size_t c = 0; c < n; ++c) acc[c] = he::add_mod(acc[c], ok[index[c]], mv);
      } else {
        he::eltwise_add_mod(acc, acc, ok, n, m);
      }
    }
  }
}

void key_switch_sum_finish(const RingContext& ring, const KeySwitchSum& sum, std::uint64_t* c0, std::uint64_t* c1) {
  const std::size_t n = ring.n(), l = sum.level(), sp = ring.special_index();
  std::uint64_t* y = he::scratch(5, 2 * n);
  std::uint64_t* rnd = he::scratch(4, 2 * n);
  std::memcpy(y, sum.row(0, l), n * sizeof(std::uint64_t));
  std::memcpy(y + n, sum.row(1, l), n * sizeof(std::uint64_t));
  he::inverse_ntt(y, ring.ntt(sp));
  he::inverse_ntt(y + n, ring.ntt(sp));
  const std::uint64_t* const ys[2] = {y, y + n};
  std::uint64_t* const c[2] = {c0, c1};
  for (std::size_t j = 0; j < l; ++j) {
    const std::uint64_t* const a[2] = {sum.row(0, j), sum.row(1, j)};
    add_divided_by_p_ntt(ring, j, ys, a, c, rnd);
  }
}

}  // namespace leukocrypt::rlwe
