// Decryption (HPS 2018, Sec. 3.1: simple scaling by t/Q in RNS, fractional parts in 64.64 fixed
// point) and the exact invariant noise budget (multi-precision CRT, as in SEAL).
#include "he/bfv/decryptor.h"

#include <algorithm>

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/big_uint.h"
#include "he/ring/rns_poly.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::bfv {

Decryptor::Decryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), sk_(sk) {
  require(ctx_ != nullptr, "Decryptor: null context");
  require(sk_.params_id() == ctx_->params_id(), "Decryptor: secret key was made for other parameters");
}

void Decryptor::dot_with_secret(const Ciphertext& ct, std::uint64_t* out) const {
  require(ct.params_id() == ctx_->params_id(), "Decryptor: ciphertext was made for other parameters (params id mismatch)");
  require(ct.n() == ctx_->n() && ct.level() >= 1 && ct.level() <= ctx_->max_level() && ct.size() >= 2 &&
              ct.size() <= 3,
          "Decryptor: malformed ciphertext (level " + std::to_string(ct.level()) + ", size " +
              std::to_string(ct.size()) + ")");
  rlwe::dot_with_secret(*ctx_, sk_, ct.raw(), ct.size(), ct.level(), /*ntt_form=*/false, out);
}

Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  const std::size_t n = ctx_->n(), l = ct.level();
  std::uint64_t* x = he::scratch(1, l * n);
  dot_with_secret(ct, x);
  const LevelData& ld = ctx_->level(l);
  const Modulus& t = ctx_->plain_modulus();
  Plaintext pt(ctx_->params_id(), n);
  for (std::size_t k = 0; k < n; ++k) {
    he::u128 whole = 0, frac = static_cast<he::u128>(1) << 63;
    for (std::size_t i = 0; i < l; ++i) {
      const std::uint64_t xi = x[i * n + k];
      whole += static_cast<he::u128>(xi) * ld.dec_int[i];
      frac += static_cast<he::u128>(xi) * ld.dec_frac[i];
    }
    std::uint64_t w = t.reduce128(static_cast<std::uint64_t>(whole >> 64), static_cast<std::uint64_t>(whole));
    std::uint64_t r = t.reduce(static_cast<std::uint64_t>(frac >> 64));
    pt[k] = he::add_mod(w, r, t.value());
  }
  return pt;
}

int Decryptor::invariant_noise_budget(const Ciphertext& ct) const {
  const std::size_t n = ctx_->n(), l = ct.level();
  std::uint64_t* x = he::scratch(1, l * n);
  dot_with_secret(ct, x);
  const LevelData& ld = ctx_->level(l);
  const std::uint64_t t = ctx_->params().t();
  const he::BigUint& Q = ld.q_product;
  he::BigUint half = Q;  // floor(Q/2)
  for (std::size_t i = 0; i < half.size(); ++i)
    half[i] = (half[i] >> 1) | (i + 1 < half.size() ? half[i + 1] << 63 : 0);
  const std::size_t limbs = Q.size() + 2;
  std::vector<std::uint64_t> acc(limbs);
  int max_bits = 0;
  for (std::size_t k = 0; k < n; ++k) {
    std::fill(acc.begin(), acc.end(), 0);
    // y = t * x mod Q via CRT: sum_i [t*x_i*(Q/q_i)^-1]_{q_i} * Q/q_i, then reduce mod Q.
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& q = ctx_->modulus(i);
      std::uint64_t z = he::mul_mod(x[i * n + k], q.reduce(t), q);
      z = he::mul_mod_shoup(z, ld.q_hat_inv[i], q.value());
      he::big_add_mul_word(acc.data(), limbs, ld.q_hat[i], z);
    }
    while (he::big_compare(acc.data(), limbs, Q) >= 0) he::big_sub(acc.data(), limbs, Q);
    if (he::big_compare(acc.data(), limbs, half) > 0) he::big_rsub(acc.data(), limbs, Q);
    max_bits = std::max(max_bits, he::big_bit_count(acc.data(), limbs));
  }
  const int q_bits = he::big_bit_count(Q.data(), Q.size());
  return std::max(0, q_bits - max_bits - 1);
}

}  // namespace leukocrypt::bfv
