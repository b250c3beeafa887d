// Key switching (see key_switch.h). Two paths: every prime below 2^50 runs on the SIMD kernels
// (dispatch), with digits of k primes converted by fast base conversion; otherwise (k = 1 only) a
// portable path accumulates in 128 bits and reduces once.
#include "he/rlwe/key_switch.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/thread_pool.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"

namespace leukocrypt::rlwe {
namespace {

// Scratch slots used here: 3 (digits), 4 (NTT-form rounding term), 5 (accumulators), 8 (the
// digits' conversion inputs), 9 (a target's accumulators). Callers keep their own data in other
// slots.
//
// Loops over target primes run one task per target through parallel_for_ring (common/
// thread_pool.h; LEUKOCRYPT_INTRAOP=off keeps them serial). A key switch called from a pool task
// (the latency layout's baby and giant steps) runs its targets serially there; one called alone (a
// relinearisation, a fold rotation, a linear step's hoisting or final division) uses every core.
// Every task writes only its own target's rows and its own thread's scratch slots 3, 4 and 9.

void check_key_shape(const RingContext& ring, const KeySwitchKey& key) {
  require(key.n() == ring.n() && key.digits() == ring.digits(ring.max_level()) && key.primes() == ring.key_primes(),
          "key switching key has the wrong shape");
}

// Key-level prime of target tau at level l: tau < l is q_tau, tau = l + m the special prime p_m.
std::size_t target_prime(const RingContext& ring, std::size_t l, std::size_t tau) {
  return tau < l ? tau : ring.special_index() + (tau - l);
}

// The rows [d_i * hat_inv_i]_{q_i} of every digit at level l (d itself when every digit is one
// prime): the first step of the digits' conversions, shared by every target. Scratch slot 8.
const std::uint64_t* conversion_inputs(const RingContext& ring, const std::uint64_t* d, std::size_t l) {
  if (ring.special_count() == 1) return d;
  const std::size_t n = ring.n();
  std::uint64_t* z = he::scratch(8, l * n);
  for (std::size_t g = 0; g < ring.digits(l); ++g) {
    const BaseConversion& c = ring.digit_conversion(l, g);
    for (std::size_t m = 0; m < c.size; ++m) {
      const std::size_t i = c.begin + m;
      he::eltwise_mul_scalar_mod(z + i * n, d + i * n, c.hat_inv[m], n, ring.modulus(i));
    }
  }
  return z;
}

// The group converted into key-level prime t, coefficient form: zg holds the group's c.size
// conversion inputs (any values below 2^52; for a one-prime group, the values themselves, reduced
// here: by a multiply by one on the SIMD kernels, by a plain reduction on rings with larger primes).
void convert_to(const RingContext& ring, const BaseConversion& c, const std::uint64_t* zg, std::size_t t,
                std::uint64_t* out) {
  const std::size_t n = ring.n();
  const Modulus& m = ring.modulus(t);
  if (c.size == 1) {
    if (ring.modulus(c.begin).value() <= m.value()) std::memcpy(out, zg, n * sizeof(std::uint64_t));
    else if (ring.all_simd()) he::eltwise_mul_scalar_mod(out, zg, he::make_shoup(1, m.value()), n, m);
    else he::eltwise_reduce_mod(out, zg, n, m);
    return;
  }
  const std::uint64_t* rows[64];
  for (std::size_t k = 0; k < c.size; ++k) rows[k] = zg + k * n;
  he::eltwise_dot_scalar_mod(out, rows, c.hat_mod.data() + t * c.size, c.size, n, m);
}

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

// Every prime below 2^50: everything on the SIMD kernels. Target t (a key-level prime): each digit
// is converted (or, for t among its own primes, taken as it is), transformed and multiplied into
// the two accumulators right away (one digit buffer, hot in L2, instead of digit rows streamed
// through L3). z: conversion_inputs(d). Results stay in the NTT domain.
void inner_simd(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* z, const std::uint64_t* d_ntt,
                const KeySwitchKey& key, std::size_t l, std::size_t t, std::uint64_t* o0, std::uint64_t* o1) {
  const std::size_t n = ring.n();
  const Modulus& m = ring.modulus(t);
  const NttTables& ntt = ring.ntt(t);
  std::uint64_t* buf = he::scratch(3, n);
  for (std::size_t g = 0; g < ring.digits(l); ++g) {
    const BaseConversion& c = ring.digit_conversion(l, g);
    const std::uint64_t* digit = buf;
    if (t >= c.begin && t < c.begin + c.size) {
      if (d_ntt) {
        digit = d_ntt + t * n;
      } else {
        std::memcpy(buf, d + t * n, n * sizeof(std::uint64_t));
        he::forward_ntt(buf, ntt);
      }
    } else {
      convert_to(ring, c, z + c.begin * n, t, buf);
      he::forward_ntt(buf, ntt);
    }
    digit_times_key(digit, key, g, t, m, n, o0, o1);
  }
}

// The division by P with rounding (ModDown), SIMD path. For one component, y holds the products
// mod p_0..p_{k-1} (NTT form); prepared once, they become the conversion inputs of
// y' = (x + h) mod P, h = (P - 1) / 2, in coefficient form. Then, per target q_j, with the
// [x]_P centred = y' - h (+ u*P from the conversion, 0 <= u < k: the result is off by -u, a
// negligible error next to the key switch's own):
//   coefficient form: out += (a_j + h - conv(y')) * P^-1,
//   NTT form:         out += (a_j - NTT(conv(y') - h)) * P^-1.
// Both are one dot product per row. For k = 1, conv(y') is y' itself (below 2^52 as the dot
// kernel allows) and the result is exactly round(x / p).
void mod_down_prepare(const RingContext& ring, std::uint64_t* y) {
  const std::size_t n = ring.n(), k = ring.special_count();
  const BaseConversion& c = ring.special_conversion();
  for (std::size_t m = 0; m < k; ++m) {
    const std::size_t pj = c.begin + m;
    const Modulus& p = ring.modulus(pj);
    std::uint64_t* ym = y + m * n;
    he::inverse_ntt(ym, ring.ntt(pj));
    he::eltwise_add_scalar_mod(ym, ym, (p.value() - 1) / 2, n, p);
    if (k > 1) he::eltwise_mul_scalar_mod(ym, ym, c.hat_inv[m], n, p);
  }
}

// out += (a - r) * P^-1 mod q_j as one dot product: out * 1 + a * P^-1 + r * (-P^-1) (rows below 2^52).
void add_difference_over_p(const RingContext& ring, std::size_t j, const std::uint64_t* a, const std::uint64_t* r,
                           std::uint64_t* out) {
  const Modulus& q = ring.modulus(j);
  const std::uint64_t qv = q.value();
  const ShoupOperand p_inv = ring.special_inv_mod_q()[j];
  const ShoupOperand w[3] = {he::make_shoup(1, qv), p_inv, he::make_shoup(qv - p_inv.value, qv)};
  const std::uint64_t* rows[3] = {out, a, r};
  he::eltwise_dot_scalar_mod(out, rows, w, 3, ring.n(), q);
}

void mod_down_ntt_add(const RingContext& ring, std::size_t j, const std::uint64_t* y, const std::uint64_t* a,
                      std::uint64_t* out, std::uint64_t* tmp) {
  const Modulus& q = ring.modulus(j);
  convert_to(ring, ring.special_conversion(), y, j, tmp);
  he::eltwise_add_scalar_mod(tmp, tmp, he::neg_mod(ring.half_special_mod_q(j), q.value()), ring.n(), q);
  he::forward_ntt(tmp, ring.ntt(j));
  add_difference_over_p(ring, j, a, tmp, out);
}

// a: the products mod q_j in the NTT domain; overwritten.
void mod_down_coeff_add(const RingContext& ring, std::size_t j, const std::uint64_t* y, std::uint64_t* a,
                        std::uint64_t* out, std::uint64_t* tmp) {
  he::inverse_ntt(a, ring.ntt(j));
  he::eltwise_add_scalar_mod(a, a, ring.half_special_mod_q(j), ring.n(), ring.modulus(j));
  const std::uint64_t* r = y;
  if (ring.special_count() > 1) {
    convert_to(ring, ring.special_conversion(), y, j, tmp);
    r = tmp;
  }
  add_difference_over_p(ring, j, a, r, out);
}

void key_switch_simd(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                     const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, std::size_t l, bool ntt_output) {
  const std::size_t n = ring.n(), k = ring.special_count(), sp = ring.special_index();
  const std::uint64_t* z = conversion_inputs(ring, d, l);
  std::uint64_t* y0 = he::scratch(5, 2 * k * n);
  std::uint64_t* y1 = y0 + k * n;
  parallel_for_ring(ring.n(), k, [&](std::size_t m) {
    inner_simd(ring, d, z, d_ntt, key, l, sp + m, y0 + m * n, y1 + m * n);
  });
  mod_down_prepare(ring, y0);
  mod_down_prepare(ring, y1);
  parallel_for_ring(ring.n(), l, [&](std::size_t j) {
    std::uint64_t* a0 = he::scratch(9, 2 * n);
    std::uint64_t* a1 = a0 + n;
    std::uint64_t* tmp = he::scratch(4, n);
    inner_simd(ring, d, z, d_ntt, key, l, j, a0, a1);
    if (ntt_output) {
      mod_down_ntt_add(ring, j, y0, a0, c0 + j * n, tmp);
      mod_down_ntt_add(ring, j, y1, a1, c1 + j * n, tmp);
    } else {
      mod_down_coeff_add(ring, j, y0, a0, c0 + j * n, tmp);
      mod_down_coeff_add(ring, j, y1, a1, c1 + j * n, tmp);
    }
  });
}

// Portable path (k = 1). The division by p with rounding for target q_j in the NTT domain, both components:
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

// Hoisted inner product for target tau (hd's targets: q_0..q_{l-1}, then the special primes):
// sum_g perm(digit_g) * key_g. With a permuted key (GaloisKeys::permute_for_evaluation:
// perm(key'_g) = key_g), the same value as perm(sum_g digit_g * key'_g): the sum first, then its
// two rows permuted.
void inner_hoisted(const RingContext& ring, const HoistedDigits& hd, const std::uint32_t* index,
                   const KeySwitchKey& key, bool key_permuted, std::size_t tau, std::uint64_t* o0, std::uint64_t* o1) {
  const std::size_t n = ring.n(), dn = hd.digits();
  const std::size_t kj = target_prime(ring, hd.level(), tau);
  const Modulus& m = ring.modulus(kj);
  if (key_permuted) {
    std::uint64_t* u = he::scratch(3, 2 * n);
    for (std::size_t g = 0; g < dn; ++g) digit_times_key(hd.row(tau, g), key, g, kj, m, n, u, u + n);
    he::apply_automorphism_ntt(u, o0, n, index);
    he::apply_automorphism_ntt(u + n, o1, n, index);
    return;
  }
  std::uint64_t* buf = he::scratch(3, n);
  for (std::size_t g = 0; g < dn; ++g) {
    he::apply_automorphism_ntt(hd.row(tau, g), buf, n, index);
    digit_times_key(buf, key, g, kj, m, n, o0, o1);
  }
}

}  // namespace

HoistedDigits::HoistedDigits(const RingContext& ring, const std::uint64_t* d, std::size_t level)
    : n_(ring.n()), level_(level) {
  require(level >= 1 && level <= ring.max_level(), "HoistedDigits: level " + std::to_string(level) +
                                                       " outside 1.." + std::to_string(ring.max_level()));
  require(ring.special_count() == 1 || ring.all_simd(), "HoistedDigits: several special primes need primes below 2^50");
  digits_ = ring.digits(level);
  targets_ = level + ring.special_count();
  rows_.resize(targets_ * digits_ * n_);
  const std::uint64_t* z = conversion_inputs(ring, d, level);
  parallel_for_ring(ring.n(), targets_, [&](std::size_t tau) {
    const std::size_t pj = target_prime(ring, level, tau);
    for (std::size_t g = 0; g < digits_; ++g) {
      const BaseConversion& c = ring.digit_conversion(level, g);
      std::uint64_t* out = rows_.data() + (tau * digits_ + g) * n_;
      if (pj >= c.begin && pj < c.begin + c.size) std::memcpy(out, d + pj * n_, n_ * sizeof(std::uint64_t));
      else convert_to(ring, c, z + c.begin * n_, pj, out);
      he::forward_ntt(out, ring.ntt(pj));
    }
  });
}

void key_switch_hoisted_add(const RingContext& ring, const HoistedDigits& hd, const std::uint32_t* index,
                            const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, bool key_permuted) {
  const std::size_t n = ring.n(), l = hd.level(), k = ring.special_count();
  check_key_shape(ring, key);
  std::uint64_t* acc = he::scratch(5, (2 * k + 2) * n);
  std::uint64_t* y0 = acc;
  std::uint64_t* y1 = acc + k * n;
  std::uint64_t* a0 = acc + 2 * k * n;
  std::uint64_t* a1 = a0 + n;
  std::uint64_t* rnd = he::scratch(4, 2 * n);
  for (std::size_t m = 0; m < k; ++m) inner_hoisted(ring, hd, index, key, key_permuted, l + m, y0 + m * n, y1 + m * n);
  if (ring.all_simd()) {
    mod_down_prepare(ring, y0);
    mod_down_prepare(ring, y1);
    for (std::size_t j = 0; j < l; ++j) {
      inner_hoisted(ring, hd, index, key, key_permuted, j, a0, a1);
      mod_down_ntt_add(ring, j, y0, a0, c0 + j * n, rnd);
      mod_down_ntt_add(ring, j, y1, a1, c1 + j * n, rnd);
    }
    return;
  }
  const std::size_t sp = ring.special_index();
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
  check_key_shape(ring, key);
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

KeySwitchSum::KeySwitchSum(const RingContext& ring, std::size_t level)
    : n_(ring.n()), level_(level), targets_(level + ring.special_count()), rows_(2 * targets_ * n_, 0) {}

void KeySwitchSum::add(const RingContext& ring, const KeySwitchSum& o) {
  require(o.n_ == n_ && o.level_ == level_ && o.targets_ == targets_, "KeySwitchSum: adding a sum of another shape");
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t t = 0; t < targets_; ++t)
      he::eltwise_add_mod(row(k, t), row(k, t), o.row(k, t), n_, ring.modulus(target_prime(ring, level_, t)));
}

void key_switch_products_add(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                             const KeySwitchKey& key, const std::uint32_t* index, KeySwitchSum& sum) {
  const std::size_t n = ring.n(), l = sum.level();
  check_key_shape(ring, key);
  require(sum.targets() == l + ring.special_count(), "KeySwitchSum: made for another ring");
  const std::uint64_t* z = conversion_inputs(ring, d, l);  // d itself with one special prime
  std::uint64_t* o = he::scratch(5, 2 * n);
  for (std::size_t t = 0; t < sum.targets(); ++t) {
    const std::size_t j = target_prime(ring, l, t);
    if (ring.all_simd()) inner_simd(ring, d, z, d_ntt, key, l, j, o, o + n);
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
  const std::size_t n = ring.n(), l = sum.level(), k = ring.special_count();
  require(sum.targets() == l + k, "KeySwitchSum: made for another ring");
  std::uint64_t* y = he::scratch(5, 2 * k * n);
  for (std::size_t m = 0; m < k; ++m) {
    std::memcpy(y + m * n, sum.row(0, l + m), n * sizeof(std::uint64_t));
    std::memcpy(y + (k + m) * n, sum.row(1, l + m), n * sizeof(std::uint64_t));
  }
  if (ring.all_simd()) {
    mod_down_prepare(ring, y);
    mod_down_prepare(ring, y + k * n);
    parallel_for_ring(ring.n(), l, [&](std::size_t j) {
      std::uint64_t* tmp = he::scratch(4, n);
      mod_down_ntt_add(ring, j, y, sum.row(0, j), c0 + j * n, tmp);
      mod_down_ntt_add(ring, j, y + k * n, sum.row(1, j), c1 + j * n, tmp);
    });
    return;
  }
  const std::size_t sp = ring.special_index();
  std::uint64_t* rnd = he::scratch(4, 2 * n);
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
