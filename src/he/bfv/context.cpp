// Context precomputation. The HPS constants follow Halevi, Polyakov, Shoup, "An Improved RNS
// Variant of the BFV Homomorphic Encryption Scheme", CT-RSA 2019 (ePrint 2018/117), Sec. 4.
#include "he/bfv/context.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "common/error.h"
#include "he/math/primes.h"
#include "he/ring/big_uint.h"

namespace leukocrypt::bfv {
namespace {

// floor(a * 2^64 / q) for a < q.
std::uint64_t frac64(std::uint64_t a, std::uint64_t q) {
  return static_cast<std::uint64_t>((static_cast<he::u128>(a) << 64) / q);
}

// Product of moduli[0..count) except index skip, reduced mod m.
std::uint64_t product_mod(const std::vector<Modulus>& moduli, std::size_t count, std::size_t skip,
                          const Modulus& m) {
  std::uint64_t r = 1 % m.value();
  for (std::size_t i = 0; i < count; ++i)
    if (i != skip) r = he::mul_mod(r, m.reduce(moduli[i].value()), m);
  return r;
}

// Bits of P needed at a level: the HPS product t*c/Q must stay below P/2 (|c| <= N*Q^2/2 for the
// middle tensor term): log2 P >= log2 Q + log2 t + log2 N + margin.
double aux_bits_needed(const Params& p, std::size_t level) {
  return p.log2_q(level) + std::log2(static_cast<double>(p.t())) + p.log_n() + 4.0;
}

}  // namespace

std::shared_ptr<const Context> Context::create(const Params& params) {
  return std::make_shared<const Context>(params);
}

Context::Context(const Params& params)
    : RingContext(params.id(), params.n(), params.q(), params.special_primes()), params_(params), t_(params.t()) {
  const std::size_t n = params.n();
  const std::size_t L = params.max_level();
  const std::vector<Modulus>& primes = moduli();  // q_0..q_{L-1}, p
  if (params.supports_batching()) t_ntt_ = std::make_unique<NttTables>(n, t_);

  // Auxiliary base for HPS multiplication: as few primes as <= 50-bit primes allow (the AVX2
  // double-precision and AVX-512 IFMA kernels need q < 2^50), each only as large as needed --
  // about the size of the q_i, so that base conversions in both directions satisfy the kernels'
  // input range (values < 4q) and run on the SIMD fused multiply-add. Never below the largest q_i's
  // size minus one: with 50-bit q_i and 48-bit p_j (what the bits alone ask for at N = 16384,
  // 7 x 50-bit q, t ~ 2^49) q_i >= 4 p_j and the HPS products fell back to the scalar
  // loops, 3.5x slower.
  const double need = aux_bits_needed(params, L);
  const std::size_t k_min = static_cast<std::size_t>(std::ceil(need / 49.9));
  int q_bits_max = 0;
  for (std::size_t i = 0; i < L; ++i) q_bits_max = std::max(q_bits_max, static_cast<int>(std::bit_width(primes[i].value())));
  const int aux_bits = std::clamp(
      std::max(static_cast<int>(std::ceil(need / static_cast<double>(k_min))) + 1, q_bits_max - 1), 30, 50);
  const std::size_t want = k_min + 2;
  auto cand = he::ntt_primes_below(aux_bits, params.log_n(), want + L + params.special_primes().size() + 1);
  for (auto c : cand) {
    if (aux_moduli_.size() == want) break;
    bool used = c == params.t() ||
                std::find(params.special_primes().begin(), params.special_primes().end(), c) !=
                    params.special_primes().end() ||
                std::find(params.q().begin(), params.q().end(), c) != params.q().end();
    if (!used) {
      aux_moduli_.emplace_back(c);
      aux_ntt_.push_back(std::make_unique<NttTables>(n, aux_moduli_.back()));
    }
  }

  for (std::size_t l = 1; l <= L; ++l) {
    LevelData d;
    d.level = l;
    d.log2_q = params.log2_q(l);
    // Encoding.
    d.q_mod_t = product_mod(primes, l, l, t_);
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& qi = primes[i];
      std::uint64_t r = qi.reduce(d.q_mod_t);
      std::uint64_t t_inv = he::inv_mod(qi.reduce(params.t()), qi);
      d.delta.push_back(he::make_shoup(he::mul_mod(he::neg_mod(r, qi.value()), t_inv, qi), qi.value()));
    }
    // Decoding and noise budget.
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& qi = primes[i];
      std::uint64_t qhat_inv = he::inv_mod(product_mod(primes, l, i, qi), qi);
      d.q_hat_inv.push_back(he::make_shoup(qhat_inv, qi.value()));
      he::u128 num = static_cast<he::u128>(params.t()) * qhat_inv;
      d.dec_int.push_back(static_cast<std::uint64_t>(num / qi.value()));
      d.dec_frac.push_back(frac64(static_cast<std::uint64_t>(num % qi.value()), qi.value()));
      he::BigUint hat{1};
      for (std::size_t m = 0; m < l; ++m)
        if (m != i) he::big_mul_word(hat, primes[m].value());
      d.q_hat.push_back(std::move(hat));
    }
    d.q_product = {1};
    for (std::size_t i = 0; i < l; ++i) he::big_mul_word(d.q_product, primes[i].value());
    // Modulus switching.
    if (l >= 2) {
      const Modulus& last = primes[l - 1];
      for (std::size_t j = 0; j + 1 < l; ++j) {
        std::uint64_t lm = primes[j].reduce(last.value());
        d.last_mod.push_back(lm);
        d.inv_last.push_back(he::make_shoup(he::inv_mod(lm, primes[j]), primes[j].value()));
      }
    }
    // HPS multiplication (HPS 2018, Sec. 4.3): P = the first aux_count auxiliary primes.
    double need_l = aux_bits_needed(params, l), have = 0;
    std::size_t k = 0;
    while (have < need_l) {
      require(k < aux_moduli_.size(), "Context: not enough auxiliary primes");
      have += std::log2(static_cast<double>(aux_moduli_[k].value()));
      ++k;
    }
    d.aux_count = k;
    std::vector<Modulus> qs(primes.begin(), primes.begin() + l);
    std::vector<Modulus> ps(aux_moduli_.begin(), aux_moduli_.begin() + k);
    d.q_to_p = he::BaseConverter(qs, ps);
    d.p_to_q = he::BaseConverter(ps, qs);
    d.hps_omega.resize(k * l);
    d.hps_kernels = true;
    for (const auto& qi : qs)
      for (const auto& pj : ps)
        if (static_cast<he::u128>(qi.value()) >= static_cast<he::u128>(pj.value()) * 4) d.hps_kernels = false;
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& qi = qs[i];
      std::uint64_t p_mod = product_mod(ps, k, k, qi);                       // P mod q_i
      std::uint64_t qp_hat = he::mul_mod(product_mod(qs, l, i, qi), p_mod, qi);  // QP/q_i mod q_i
      std::uint64_t w = he::inv_mod(qp_hat, qi);
      // r_i = t * P * w_i mod q_i; t*P*w_i/q_i = floor + r_i/q_i.
      std::uint64_t r = he::mul_mod(he::mul_mod(qi.reduce(params.t()), p_mod, qi), w, qi);
      d.hps_frac.push_back(frac64(r, qi.value()));
      for (std::size_t j = 0; j < k; ++j) {
        const Modulus& pj = ps[j];
        // floor(t*P*w_i/q_i) = (t*P*w_i - r_i)/q_i = -r_i * q_i^-1 (mod p_j), as p_j | P.
        std::uint64_t qinv = he::inv_mod(pj.reduce(qi.value()), pj);
        d.hps_omega[j * l + i] =
            he::make_shoup(he::mul_mod(he::neg_mod(pj.reduce(r), pj.value()), qinv, pj), pj.value());
      }
    }
    for (std::size_t j = 0; j < k; ++j) {
      const Modulus& pj = ps[j];
      std::uint64_t q_inv = he::inv_mod(product_mod(qs, l, l, pj), pj);
      d.hps_lambda.push_back(he::make_shoup(he::mul_mod(pj.reduce(params.t()), q_inv, pj), pj.value()));
    }
    d.hps_dot = d.hps_kernels && l + 3 <= 64;
    for (std::size_t j = 0; d.hps_dot && j < k; ++j) {
      const std::uint64_t pv = ps[j].value();
      for (std::size_t i = 0; i < l; ++i) d.hps_dot_w.push_back(d.hps_omega[j * l + i]);
      d.hps_dot_w.push_back(he::make_shoup(1, pv));
      d.hps_dot_w.push_back(he::make_shoup(ps[j].reduce(1ULL << 32), pv));
      d.hps_dot_w.push_back(d.hps_lambda[j]);
    }
    levels_.push_back(std::move(d));
  }
}

}  // namespace leukocrypt::bfv
