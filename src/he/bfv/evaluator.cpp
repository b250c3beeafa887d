// Homomorphic evaluation. Ciphertexts stay in coefficient form; every op checks params id, level
// and size. Multiplication follows Halevi, Polyakov, Shoup, "An Improved RNS Variant of the BFV
// Homomorphic Encryption Scheme" (CT-RSA 2019, ePrint 2018/117), Sec. 4; key switching is the RNS
// gadget decomposition with one special prime p (as in SEAL / Gentry-Halevi-Smart 2012).
#include "he/bfv/evaluator.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "common/error.h"
#include "common/thread_pool.h"
#include "he/bfv/internal.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"
#include "he/rlwe/key_switch.h"

namespace leukocrypt::bfv {
namespace {

// Centred representative of w mod t, then its residue mod q.
std::uint64_t signed_mod(std::int64_t w, std::uint64_t q) {
  if (w >= 0) return static_cast<std::uint64_t>(w) % q;
  std::uint64_t r = (0 - static_cast<std::uint64_t>(w)) % q;
  return r == 0 ? 0 : q - r;
}

std::int64_t centred_mod_t(std::int64_t w, std::uint64_t t) {
  std::int64_t tt = static_cast<std::int64_t>(t);
  std::int64_t r = w % tt;
  if (r < 0) r += tt;
  return static_cast<std::uint64_t>(r) > t / 2 ? r - tt : r;
}

}  // namespace

Evaluator::Evaluator(ContextPtr ctx) : ctx_(std::move(ctx)) {
  require(ctx_ != nullptr, "Evaluator: null context");
}

void Evaluator::check_ct(const Ciphertext& ct, const char* what) const {
  if (ct.params_id() != ctx_->params_id())
    throw InvalidArgument(std::string(what) + ": ciphertext was made for other parameters (params id mismatch)");
  if (ct.n() != ctx_->n() || ct.level() < 1 || ct.level() > ctx_->max_level() || ct.size() < 2 || ct.size() > 3)
    throw InvalidArgument(std::string(what) + ": malformed ciphertext (N " + std::to_string(ct.n()) + ", level " +
                          std::to_string(ct.level()) + ", size " + std::to_string(ct.size()) + ")");
}

void Evaluator::check_pair(const Ciphertext& a, const Ciphertext& b) const {
  check_ct(a, "evaluator");
  check_ct(b, "evaluator");
  if (a.level() != b.level())
    throw InvalidArgument("ciphertexts at different levels (" + std::to_string(a.level()) + " vs " +
                          std::to_string(b.level()) + ")");
}

void Evaluator::check_plain(const Plaintext& pt) const { detail::check_plaintext(*ctx_, pt); }

// ---- Additive ops: O(N*l), no NTT -------------------------------------------------------------

namespace {
// Widens a (size 2) to `size` polynomials, zero-filled, so a size-3 operand can be added to it.
void grow_to_size(Ciphertext& a, std::size_t size, std::size_t n, std::size_t l) {
  if (size <= a.size()) return;
  Ciphertext grown(a.params_id(), n, l, size);
  std::memcpy(grown.raw(), a.raw(), a.raw_size() * sizeof(std::uint64_t));
  a = std::move(grown);
}
}  // namespace

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  const std::size_t n = ctx_->n(), l = a.level();
  grow_to_size(a, b.size(), n, l);
  for (std::size_t k = 0; k < b.size(); ++k)
    for (std::size_t i = 0; i < l; ++i) he::eltwise_add_mod(a.data(k, i), a.data(k, i), b.data(k, i), n, ctx_->modulus(i));
}

Ciphertext Evaluator::add(const Ciphertext& a, const Ciphertext& b) const {
  Ciphertext r = a;
  add_inplace(r, b);
  return r;
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  const std::size_t n = ctx_->n(), l = a.level();
  grow_to_size(a, b.size(), n, l);
  for (std::size_t k = 0; k < b.size(); ++k)
    for (std::size_t i = 0; i < l; ++i) he::eltwise_sub_mod(a.data(k, i), a.data(k, i), b.data(k, i), n, ctx_->modulus(i));
}

Ciphertext Evaluator::sub(const Ciphertext& a, const Ciphertext& b) const {
  Ciphertext r = a;
  sub_inplace(r, b);
  return r;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check_ct(a, "negate");
  for (std::size_t k = 0; k < a.size(); ++k)
    for (std::size_t i = 0; i < a.level(); ++i) he::eltwise_neg_mod(a.data(k, i), a.data(k, i), ctx_->n(), ctx_->modulus(i));
}

Ciphertext Evaluator::negate(const Ciphertext& a) const {
  Ciphertext r = a;
  negate_inplace(r);
  return r;
}

void Evaluator::multiply_scalar_inplace(Ciphertext& ct, std::int64_t w) const {
  check_ct(ct, "multiply_scalar");
  const std::int64_t wc = centred_mod_t(w, ctx_->params().t());
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const ShoupOperand s = he::make_shoup(signed_mod(wc, q.value()), q.value());
    for (std::size_t k = 0; k < ct.size(); ++k) he::eltwise_mul_scalar_mod(ct.data(k, i), ct.data(k, i), s, ctx_->n(), q);
  }
}

Ciphertext Evaluator::multiply_scalar(const Ciphertext& ct, std::int64_t w) const {
  Ciphertext r = ct;
  multiply_scalar_inplace(r, w);
  return r;
}

void Evaluator::multiply_scalar_add_inplace(Ciphertext& acc, const Ciphertext& ct, std::int64_t w) const {
  if (acc.empty()) {
    acc = multiply_scalar(ct, w);
    return;
  }
  check_pair(acc, ct);
  if (ct.size() > acc.size()) {
    Ciphertext tmp = multiply_scalar(ct, w);
    add_inplace(acc, tmp);
    return;
  }
  const std::int64_t wc = centred_mod_t(w, ctx_->params().t());
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const ShoupOperand s = he::make_shoup(signed_mod(wc, q.value()), q.value());
    for (std::size_t k = 0; k < ct.size(); ++k) he::eltwise_fma_scalar_mod(acc.data(k, i), ct.data(k, i), s, ctx_->n(), q);
  }
}

void Evaluator::add_scalar_inplace(Ciphertext& ct, std::int64_t c) const {
  check_ct(ct, "add_scalar");
  // The constant polynomial c has c in every slot: add round(Q*c/t) to coefficient 0 only.
  const std::uint64_t t = ctx_->params().t();
  const std::uint64_t m = signed_mod(c, t);
  const LevelData& ld = ctx_->level(ct.level());
  he::u128 x = static_cast<he::u128>(ld.q_mod_t) * m + (t >> 1);
  const std::uint64_t fix = static_cast<std::uint64_t>(x / t);
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    std::uint64_t v = he::add_mod(he::mul_mod_shoup(m, ld.delta[i], q.value()), q.reduce(fix), q.value());
    std::uint64_t* c0 = ct.data(0, i);
    c0[0] = he::add_mod(c0[0], v, q.value());
  }
}

void Evaluator::add_plain_inplace(Ciphertext& ct, const Plaintext& pt) const {
  check_ct(ct, "add_plain");
  check_plain(pt);
  detail::add_scaled_plain(*ctx_, pt, ct.poly(0), ct.level(), false);
}

void Evaluator::sub_plain_inplace(Ciphertext& ct, const Plaintext& pt) const {
  check_ct(ct, "sub_plain");
  check_plain(pt);
  detail::add_scaled_plain(*ctx_, pt, ct.poly(0), ct.level(), true);
}

// ---- multiply_plain: (size+1)*l forward and size*l inverse NTTs ------------------------------

void Evaluator::multiply_plain_inplace(Ciphertext& ct, const Plaintext& pt) const {
  check_ct(ct, "multiply_plain");
  check_plain(pt);
  const std::size_t n = ctx_->n();
  const std::uint64_t t = ctx_->params().t();
  std::uint64_t* m = he::scratch(0, n);
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const std::uint64_t qv = q.value();
    const std::uint64_t t_mod = q.reduce(t);
    // Centred lift of the plaintext: noise grows by ||m|| <= t/2.
    for (std::size_t k = 0; k < n; ++k) {
      std::uint64_t v = pt[k];
      m[k] = v > t / 2 ? he::sub_mod(q.reduce(v), t_mod, qv) : q.reduce(v);
    }
    he::forward_ntt(m, ctx_->ntt(i));
    for (std::size_t k = 0; k < ct.size(); ++k) {
      std::uint64_t* c = ct.data(k, i);
      he::forward_ntt(c, ctx_->ntt(i));
      he::eltwise_mul_mod(c, c, m, n, q);
      he::inverse_ntt(c, ctx_->ntt(i));
    }
  }
}

Ciphertext Evaluator::multiply_plain(const Ciphertext& ct, const Plaintext& pt) const {
  Ciphertext r = ct;
  multiply_plain_inplace(r, pt);
  return r;
}

// ---- HPS multiplication -----------------------------------------------------------------------

namespace {

// Lifts a polynomial mod Q (l rows) to Q u P (l + k rows) exactly (centred) and transforms it.
void extend_and_ntt(const Context& ctx, const LevelData& ld, const std::uint64_t* in, std::uint64_t* out) {
  const std::size_t n = ctx.n(), l = ld.level, k = ld.aux_count;
  std::memcpy(out, in, l * n * sizeof(std::uint64_t));
  ld.q_to_p.convert(in, out + l * n, n);
  for (std::size_t i = 0; i < l; ++i) he::forward_ntt(out + i * n, ctx.ntt(i));
  for (std::size_t j = 0; j < k; ++j) he::forward_ntt(out + (l + j) * n, ctx.aux_ntt(j));
}

// out (l rows) = round(t/Q * c) mod Q for c given in Q u P (coefficient form):
// HPS 2018, Sec. 4.3, steps (1)-(2): y_j = sum_i c_i*omega_ij + round(sum_i c_i*frac_i) + c_j*lambda_j
// mod p_j, then exact conversion P -> Q (|y| < P/2 by the choice of P).
void scale_down(const Context& ctx, const LevelData& ld, const std::uint64_t* c, std::uint64_t* y,
                std::uint64_t* out) {
  const std::size_t n = ctx.n(), l = ld.level, k = ld.aux_count;
  if (ld.hps_dot) {
    // Blocked: the rounding term of a block (split in 32-bit halves: it can reach l * 2^50,
    // the dot kernel takes values below 2^52), then one dot product per p_j, rows in L1.
    constexpr std::size_t kBlock = 128;
    std::uint64_t lo[kBlock], hi[kBlock];
    const std::uint64_t* rows[64];
    for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
      const std::size_t bn = std::min(kBlock, n - b0);
      for (std::size_t c0 = 0; c0 < bn; ++c0) {
        he::u128 s = static_cast<he::u128>(1) << 63;
        for (std::size_t i = 0; i < l; ++i) s += static_cast<he::u128>(c[i * n + b0 + c0]) * ld.hps_frac[i];
        const std::uint64_t r = static_cast<std::uint64_t>(s >> 64);
        lo[c0] = r & 0xffffffffULL;
        hi[c0] = r >> 32;
      }
      for (std::size_t i = 0; i < l; ++i) rows[i] = c + i * n + b0;
      rows[l] = lo;
      rows[l + 1] = hi;
      for (std::size_t j = 0; j < k; ++j) {
        rows[l + 2] = c + (l + j) * n + b0;
        he::eltwise_dot_scalar_mod(y + j * n + b0, rows, ld.hps_dot_w.data() + j * (l + 3), l + 3, bn,
                                   ctx.aux_modulus(j));
      }
    }
    ld.p_to_q.convert(y, out, n);
    return;
  }
  if (ld.hps_kernels) {
    // Row-wise on the element-wise kernels (SIMD when dispatched); needs every q_i < 4 p_j.
    std::uint64_t* rnd = he::scratch(7, n);
    for (std::size_t c0 = 0; c0 < n; ++c0) {
      he::u128 s = static_cast<he::u128>(1) << 63;
      for (std::size_t i = 0; i < l; ++i) s += static_cast<he::u128>(c[i * n + c0]) * ld.hps_frac[i];
      rnd[c0] = static_cast<std::uint64_t>(s >> 64);
    }
    for (std::size_t j = 0; j < k; ++j) {
      const Modulus& p = ctx.aux_modulus(j);
      std::uint64_t* yj = y + j * n;
      he::eltwise_mul_scalar_mod(yj, c + (l + j) * n, ld.hps_lambda[j], n, p);
      for (std::size_t i = 0; i < l; ++i) he::eltwise_fma_scalar_mod(yj, c + i * n, ld.hps_omega[j * l + i], n, p);
      for (std::size_t c0 = 0; c0 < n; ++c0) yj[c0] = he::add_mod(yj[c0], p.reduce(rnd[c0]), p.value());
    }
    ld.p_to_q.convert(y, out, n);
    return;
  }
  constexpr std::size_t kBlock = 128;
  std::uint64_t rnd[kBlock];
  for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
    const std::size_t bn = std::min(kBlock, n - b0);
    for (std::size_t c0 = 0; c0 < bn; ++c0) {
      he::u128 s = static_cast<he::u128>(1) << 63;
      for (std::size_t i = 0; i < l; ++i) s += static_cast<he::u128>(c[i * n + b0 + c0]) * ld.hps_frac[i];
      rnd[c0] = static_cast<std::uint64_t>(s >> 64);
    }
    // Shoup products lazily in [0, 2p) summed in 64 bits: (2l + 3) p < 2^64 as p < 2^55, l <= 60.
    for (std::size_t j = 0; j < k; ++j) {
      const Modulus& p = ctx.aux_modulus(j);
      const std::uint64_t pv = p.value();
      const ShoupOperand* omega = ld.hps_omega.data() + j * l;
      const std::uint64_t* cj = c + (l + j) * n + b0;
      std::uint64_t* yj = y + j * n + b0;
      for (std::size_t c0 = 0; c0 < bn; ++c0) yj[c0] = p.reduce(rnd[c0]) + he::mul_mod_shoup_lazy(cj[c0], ld.hps_lambda[j], pv);
      for (std::size_t i = 0; i < l; ++i) {
        const ShoupOperand w = omega[i];
        const std::uint64_t* ci = c + i * n + b0;
        for (std::size_t c0 = 0; c0 < bn; ++c0) yj[c0] += he::mul_mod_shoup_lazy(ci[c0], w, pv);
      }
      for (std::size_t c0 = 0; c0 < bn; ++c0) yj[c0] = p.reduce(yj[c0]);
    }
  }
  ld.p_to_q.convert(y, out, n);
}

void inverse_all(const Context& ctx, const LevelData& ld, std::uint64_t* a) {
  const std::size_t n = ctx.n(), l = ld.level;
  for (std::size_t i = 0; i < l; ++i) he::inverse_ntt(a + i * n, ctx.ntt(i));
  for (std::size_t j = 0; j < ld.aux_count; ++j) he::inverse_ntt(a + (l + j) * n, ctx.aux_ntt(j));
}

const Modulus& base_modulus(const Context& ctx, const LevelData& ld, std::size_t r) {
  return r < ld.level ? ctx.modulus(r) : ctx.aux_modulus(r - ld.level);
}

}  // namespace

Ciphertext Evaluator::multiply(const Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  if (a.size() != 2 || b.size() != 2)
    throw InvalidArgument("multiply: ciphertexts must have size 2 (relinearize first), got " +
                          std::to_string(a.size()) + " and " + std::to_string(b.size()));
  if (&a == &b) return square(a);
  const std::size_t n = ctx_->n(), l = a.level();
  const LevelData& ld = ctx_->level(l);
  const std::size_t rows = l + ld.aux_count, poly = rows * n;
  // 1. Extend a0, a1, b0, b1 to Q u P and transform (HPS step "lift").
  std::uint64_t* ext = he::scratch(0, 4 * poly);
  extend_and_ntt(*ctx_, ld, a.poly(0), ext);
  extend_and_ntt(*ctx_, ld, a.poly(1), ext + poly);
  extend_and_ntt(*ctx_, ld, b.poly(0), ext + 2 * poly);
  extend_and_ntt(*ctx_, ld, b.poly(1), ext + 3 * poly);
  // 2. Tensor: c0 = a0 b0, c1 = a0 b1 + a1 b0, c2 = a1 b1 (over the integers, as |c| < QP/2).
  std::uint64_t* t = he::scratch(1, 3 * poly);
  for (std::size_t r = 0; r < rows; ++r) {
    const Modulus& m = base_modulus(*ctx_, ld, r);
    const std::size_t o = r * n;
    he::eltwise_mul_mod(t + o, ext + o, ext + 2 * poly + o, n, m);
    he::eltwise_mul_mod(t + poly + o, ext + o, ext + 3 * poly + o, n, m);
    he::eltwise_mul_add_mod(t + poly + o, ext + poly + o, ext + 2 * poly + o, n, m);
    he::eltwise_mul_mod(t + 2 * poly + o, ext + poly + o, ext + 3 * poly + o, n, m);
  }
  // 3. Back to coefficients, 4. scale by t/Q and return to Q.
  Ciphertext r(ctx_->params_id(), n, l, 3);
  std::uint64_t* y = he::scratch(2, ld.aux_count * n);
  for (std::size_t k = 0; k < 3; ++k) {
    inverse_all(*ctx_, ld, t + k * poly);
    scale_down(*ctx_, ld, t + k * poly, y, r.poly(k));
  }
  return r;
}

Ciphertext Evaluator::square(const Ciphertext& a) const {
  check_ct(a, "square");
  if (a.size() != 2) throw InvalidArgument("square: ciphertext must have size 2 (relinearize first), got " + std::to_string(a.size()));
  const std::size_t n = ctx_->n(), l = a.level();
  const LevelData& ld = ctx_->level(l);
  const std::size_t rows = l + ld.aux_count, poly = rows * n;
  // Alone (one ciphertext per prime: the latency layout) the square spreads over the global pool
  // (parallel_for_ring); inside a pool task (the throughput layout's many ciphertexts) each loop
  // runs serially. Slots 0 and 1 hold the operands; a task takes only its own thread's slot 2.
  std::uint64_t* ext = he::scratch(0, 2 * poly);
  parallel_for_ring(n, 2, [&](std::size_t k) { extend_and_ntt(*ctx_, ld, a.poly(k), ext + k * poly); });
  std::uint64_t* t = he::scratch(1, 3 * poly);
  parallel_for_ring(n, rows, [&](std::size_t r) {
    const Modulus& m = base_modulus(*ctx_, ld, r);
    const std::size_t o = r * n;
    he::eltwise_mul_mod(t + o, ext + o, ext + o, n, m);
    he::eltwise_mul_mod(t + poly + o, ext + o, ext + poly + o, n, m);
    he::eltwise_add_mod(t + poly + o, t + poly + o, t + poly + o, n, m);
    he::eltwise_mul_mod(t + 2 * poly + o, ext + poly + o, ext + poly + o, n, m);
  });
  Ciphertext r(ctx_->params_id(), n, l, 3);
  parallel_for_ring(n, 3 * rows, [&](std::size_t task) {
    const std::size_t k = task / rows, row = task % rows;
    std::uint64_t* x = t + k * poly + row * n;
    if (row < l) he::inverse_ntt(x, ctx_->ntt(row));
    else he::inverse_ntt(x, ctx_->aux_ntt(row - l));
  });
  parallel_for_ring(n, 3, [&](std::size_t k) {
    std::uint64_t* y = he::scratch(2, ld.aux_count * n);  // this thread's
    scale_down(*ctx_, ld, t + k * poly, y, r.poly(k));
  });
  return r;
}

// ---- Key switching (rlwe/key_switch.h) ------------------------------------------------------

void Evaluator::relinearize_inplace(Ciphertext& ct, const RelinKeys& rk) const {
  check_ct(ct, "relinearize");
  if (ct.size() == 2) return;
  require(rk.params_id() == ctx_->params_id(), "relinearize: relin keys were made for other parameters");
  require(!rk.empty(), "relinearize: empty relin keys");
  const std::size_t l = ct.level();
  rlwe::key_switch_add(*ctx_, ct.poly(2), nullptr, rk.key(), ct.poly(0), ct.poly(1), l, /*ntt_output=*/false);
  ct.truncate_size(2);
}

Ciphertext Evaluator::square_relin(const Ciphertext& a, const RelinKeys& rk) const {
  Ciphertext r = square(a);
  relinearize_inplace(r, rk);
  return r;
}

// ---- Galois automorphisms ---------------------------------------------------------------------

Ciphertext Evaluator::apply_galois(const Ciphertext& ct, std::uint32_t g, const GaloisKeys& gk) const {
  check_ct(ct, "apply_galois");
  require(ct.size() == 2, "apply_galois: ciphertext must have size 2 (relinearize first)");
  require(gk.params_id() == ctx_->params_id(), "apply_galois: Galois keys were made for other parameters");
  const KeySwitchKey& key = gk.get(g);
  const std::size_t n = ctx_->n(), l = ct.level();
  if (gk.permuted()) {
    // Evaluation-form key (keys.h): c1 itself is switched, then c0 + the switched pair is permuted.
    std::uint64_t* t = he::scratch(6, 2 * l * n);  // key switching uses slots 3, 4, 5
    std::fill(t, t + 2 * l * n, 0);
    rlwe::key_switch_add(*ctx_, ct.poly(1), nullptr, key, t, t + l * n, l, /*ntt_output=*/false);
    Ciphertext r(ct.params_id(), n, l, 2, Ciphertext::Uninitialized{});
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& q = ctx_->modulus(i);
      he::eltwise_add_mod(t + i * n, t + i * n, ct.data(0, i), n, q);
      he::apply_automorphism(t + i * n, r.data(0, i), n, g, q.value());
      he::apply_automorphism(t + (l + i) * n, r.data(1, i), n, g, q.value());
    }
    return r;
  }
  Ciphertext r(ct.params_id(), n, l, 2);
  std::uint64_t* c1g = he::scratch(6, l * n);  // key switching uses slots 3, 4, 5
  for (std::size_t i = 0; i < l; ++i) {
    const std::uint64_t q = ctx_->modulus(i).value();
    he::apply_automorphism(ct.data(0, i), r.data(0, i), n, g, q);
    he::apply_automorphism(ct.data(1, i), c1g + i * n, n, g, q);
  }
  // (c0(X^g), c1(X^g)) decrypts under s(X^g); switch the c1 part back to s.
  rlwe::key_switch_add(*ctx_, c1g, nullptr, key, r.poly(0), r.poly(1), l, /*ntt_output=*/false);
  return r;
}

rlwe::HoistedDigits Evaluator::hoist(const Ciphertext& ct) const {
  check_ct(ct, "hoist");
  require(ct.size() == 2, "hoist: ciphertext must have size 2 (relinearize first)");
  return rlwe::HoistedDigits(*ctx_, ct.poly(1), ct.level());
}

Ciphertext Evaluator::rotate_rows_hoisted_ntt(const Ciphertext& ct_ntt, const rlwe::HoistedDigits& digits, int step,
                                              const GaloisKeys& gk) const {
  check_ct(ct_ntt, "rotate_rows_hoisted_ntt");
  require(ct_ntt.size() == 2 && digits.level() == ct_ntt.level(),
          "rotate_rows_hoisted_ntt: the digits were hoisted from another ciphertext (level " +
              std::to_string(digits.level()) + ", ciphertext level " + std::to_string(ct_ntt.level()) + ")");
  require(gk.params_id() == ctx_->params_id(), "rotate_rows_hoisted_ntt: Galois keys were made for other parameters");
  const std::size_t n = ctx_->n(), l = ct_ntt.level();
  const std::uint32_t g = galois_elt_for_step(step, n);
  const KeySwitchKey& key = gk.get(g);
  std::uint32_t* index = reinterpret_cast<std::uint32_t*>(he::scratch(6, (n + 1) / 2));
  he::automorphism_ntt_index(n, g, ctx_->bitrev(), index);
  // Every coefficient is written below (c0 permuted, c1 zeroed): no zero pass before.
  Ciphertext r(ct_ntt.params_id(), n, l, 2, Ciphertext::Uninitialized{});
  for (std::size_t i = 0; i < l; ++i) {
    he::apply_automorphism_ntt(ct_ntt.data(0, i), r.data(0, i), n, index);
    std::fill(r.data(1, i), r.data(1, i) + n, 0);
  }
  rlwe::key_switch_hoisted_add(*ctx_, digits, index, key, r.poly(0), r.poly(1), gk.permuted());
  return r;
}

Ciphertext Evaluator::rotate_rows_ntt(const Ciphertext& ct_ntt, int step, const GaloisKeys& gk) const {
  check_ct(ct_ntt, "rotate_rows_ntt");
  require(ct_ntt.size() == 2, "rotate_rows_ntt: ciphertext must have size 2 (relinearize first)");
  require(gk.params_id() == ctx_->params_id(), "rotate_rows_ntt: Galois keys were made for other parameters");
  const std::size_t n = ctx_->n(), l = ct_ntt.level();
  const std::uint32_t g = galois_elt_for_step(step, n);
  const KeySwitchKey& key = gk.get(g);
  if (gk.permuted()) {
    // Evaluation-form key (keys.h): c1 itself is switched, c0 + the pair permuted (key_switch.h).
    std::uint32_t* index = reinterpret_cast<std::uint32_t*>(he::scratch(2, (n + 1) / 2));
    he::automorphism_ntt_index(n, g, ctx_->bitrev(), index);
    Ciphertext r(ct_ntt.params_id(), n, l, 2, Ciphertext::Uninitialized{});
    rlwe::automorphism_ntt_permuted_key(*ctx_, ct_ntt.poly(0), ct_ntt.poly(1), l, key, index, r.poly(0), r.poly(1));
    return r;
  }
  // Scratch 6: the permutation, then c1(X^g) in the NTT domain and in coefficients (key
  // switching uses slots 3, 4, 5).
  std::uint64_t* buf = he::scratch(6, (n + 1) / 2 + 2 * l * n);
  std::uint32_t* index = reinterpret_cast<std::uint32_t*>(buf);
  std::uint64_t* c1g_ntt = buf + (n + 1) / 2;
  std::uint64_t* c1g = c1g_ntt + l * n;
  he::automorphism_ntt_index(n, g, ctx_->bitrev(), index);
  // Every coefficient is written below (c0 permuted, c1 zeroed): no zero pass before.
  Ciphertext r(ct_ntt.params_id(), n, l, 2, Ciphertext::Uninitialized{});
  for (std::size_t i = 0; i < l; ++i) {
    he::apply_automorphism_ntt(ct_ntt.data(0, i), r.data(0, i), n, index);
    std::fill(r.data(1, i), r.data(1, i) + n, 0);
    he::apply_automorphism_ntt(ct_ntt.data(1, i), c1g_ntt + i * n, n, index);
    std::memcpy(c1g + i * n, c1g_ntt + i * n, n * sizeof(std::uint64_t));
    he::inverse_ntt(c1g + i * n, ctx_->ntt(i));
  }
  rlwe::key_switch_add(*ctx_, c1g, c1g_ntt, key, r.poly(0), r.poly(1), l, /*ntt_output=*/true);
  return r;
}

void Evaluator::add_rotation_ntt(const Ciphertext& ct_ntt, int step, const GaloisKeys& gk, Ciphertext& sum,
                                 rlwe::KeySwitchSum& ks) const {
  check_ct(ct_ntt, "add_rotation_ntt");
  check_ct(sum, "add_rotation_ntt");
  const std::size_t n = ctx_->n(), l = ct_ntt.level();
  require(ct_ntt.size() == 2 && sum.size() == 2 && sum.level() == l && ks.level() == l,
          "add_rotation_ntt: the ciphertext, the sum and the key-switch sum must be of size 2 at one level");
  require(gk.params_id() == ctx_->params_id(), "add_rotation_ntt: Galois keys were made for other parameters");
  const std::uint32_t g = galois_elt_for_step(step, n);
  const KeySwitchKey& key = gk.get(g);
  // Scratch 6: the permutation, c1 (or c1(X^g)) in coefficients and, for keys as generated,
  // c1(X^g) in the NTT domain (key switching uses slots 3, 4, 5).
  std::uint64_t* buf = he::scratch(6, (n + 1) / 2 + 2 * l * n);
  std::uint32_t* index = reinterpret_cast<std::uint32_t*>(buf);
  std::uint64_t* c1 = buf + (n + 1) / 2;
  std::uint64_t* c1_ntt = c1 + l * n;
  he::automorphism_ntt_index(n, g, ctx_->bitrev(), index);
  const std::uint64_t* d_ntt = ct_ntt.poly(1);
  if (gk.permuted()) {
    std::memcpy(c1, ct_ntt.poly(1), l * n * sizeof(std::uint64_t));  // c1 itself; products permuted
  } else {
    for (std::size_t i = 0; i < l; ++i) he::apply_automorphism_ntt(ct_ntt.data(1, i), c1_ntt + i * n, n, index);
    std::memcpy(c1, c1_ntt, l * n * sizeof(std::uint64_t));
    d_ntt = c1_ntt;
  }
  for (std::size_t i = 0; i < l; ++i) he::inverse_ntt(c1 + i * n, ctx_->ntt(i));
  rlwe::key_switch_products_add(*ctx_, c1, d_ntt, key, gk.permuted() ? index : nullptr, ks);
  std::uint64_t* row = he::scratch(4, n);
  for (std::size_t i = 0; i < l; ++i) {
    he::apply_automorphism_ntt(ct_ntt.data(0, i), row, n, index);
    he::eltwise_add_mod(sum.data(0, i), sum.data(0, i), row, n, ctx_->modulus(i));
  }
}

void Evaluator::finish_rotation_sum(Ciphertext& sum, const rlwe::KeySwitchSum& ks) const {
  check_ct(sum, "finish_rotation_sum");
  require(sum.size() == 2 && ks.level() == sum.level(), "finish_rotation_sum: the sums are at different levels");
  rlwe::key_switch_sum_finish(*ctx_, ks, sum.poly(0), sum.poly(1));
}

namespace {
// fn(row) for every (polynomial, prime) row of ct (parallel_for_ring).
void for_each_row(const Ciphertext& ct, std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
  parallel_for_ring(n, ct.size() * ct.level(), [&](std::size_t r) { fn(r / ct.level(), r % ct.level()); });
}
}  // namespace

void Evaluator::to_ntt_inplace(Ciphertext& ct) const {
  check_ct(ct, "to_ntt");
  for_each_row(ct, ctx_->n(), [&](std::size_t k, std::size_t i) { he::forward_ntt(ct.data(k, i), ctx_->ntt(i)); });
}

void Evaluator::from_ntt_inplace(Ciphertext& ct) const {
  check_ct(ct, "from_ntt");
  for_each_row(ct, ctx_->n(), [&](std::size_t k, std::size_t i) { he::inverse_ntt(ct.data(k, i), ctx_->ntt(i)); });
}

Ciphertext Evaluator::rotate_rows(const Ciphertext& ct, int step, const GaloisKeys& gk) const {
  return apply_galois(ct, galois_elt_for_step(step, ctx_->n()), gk);
}

Ciphertext Evaluator::rotate_columns(const Ciphertext& ct, const GaloisKeys& gk) const {
  return apply_galois(ct, galois_elt_for_columns(ctx_->n()), gk);
}

// ---- Modulus switching ------------------------------------------------------------------------

void Evaluator::mod_switch_to_next_inplace(Ciphertext& ct) const {
  check_ct(ct, "mod_switch_to_next");
  const std::size_t l = ct.level(), n = ctx_->n();
  require(l >= 2, "mod_switch_to_next: ciphertext is already at level 1");
  const LevelData& ld = ctx_->level(l);
  const std::uint64_t half = ctx_->modulus(l - 1).value() >> 1;
  // round(c / q_last): (c_j - [c]_{q_last} centred) * q_last^-1 mod q_j, written in place into
  // the level-(l-1) layout (destination rows never overtake their sources).
  std::uint64_t* last = he::scratch(6, n);
  std::uint64_t* base = ct.raw();
  for (std::size_t k = 0; k < ct.size(); ++k) {
    std::memcpy(last, base + (k * l + l - 1) * n, n * sizeof(std::uint64_t));
    for (std::size_t j = 0; j + 1 < l; ++j) {
      const Modulus& q = ctx_->modulus(j);
      const std::uint64_t qv = q.value(), lm = ld.last_mod[j];
      const std::uint64_t* cj = base + (k * l + j) * n;
      std::uint64_t* o = base + (k * (l - 1) + j) * n;
      for (std::size_t c = 0; c < n; ++c) {
        std::uint64_t v = q.reduce(last[c]);
        if (last[c] > half) v = he::sub_mod(v, lm, qv);
        o[c] = he::mul_mod_shoup(he::sub_mod(cj[c], v, qv), ld.inv_last[j], qv);
      }
    }
  }
  ct.shrink_level(l - 1);
}

void Evaluator::mod_switch_to_inplace(Ciphertext& ct, std::size_t level) const {
  check_ct(ct, "mod_switch_to");
  require(level >= 1 && level <= ct.level(), "mod_switch_to: target level " + std::to_string(level) +
                                                  " not in [1, " + std::to_string(ct.level()) + "]");
  while (ct.level() > level) mod_switch_to_next_inplace(ct);
}

}  // namespace leukocrypt::bfv
