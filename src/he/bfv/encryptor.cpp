// Public-key encryption: c = (pk0*u + e0 + round(Q*m/t), pk1*u + e1) over q_0..q_{L-1}.
#include "he/bfv/encryptor.h"

#include "common/error.h"
#include "he/bfv/internal.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"
#include "he/ring/sampler.h"

namespace leukocrypt::bfv {

Encryptor::Encryptor(ContextPtr ctx, const PublicKey& pk) : ctx_(std::move(ctx)), pk_(pk) {
  require(ctx_ != nullptr, "Encryptor: null context");
  require(pk_.params_id() == ctx_->params_id(), "Encryptor: public key was made for other parameters (params id mismatch)");
  require(pk_.level() == ctx_->max_level() && pk_.n() == ctx_->n(), "Encryptor: public key has the wrong shape");
}

Ciphertext Encryptor::encrypt_zero() const {
  const std::size_t n = ctx_->n(), L = ctx_->max_level();
  Ciphertext ct(ctx_->params_id(), n, L, 2);
  he::Prng prng = he::Prng::fresh();
  // u, e0, e1 decrypt this ciphertext without the key: wiped from the scratch on return.
  std::int8_t* small = reinterpret_cast<std::int8_t*>(he::scratch(0, 3 * n / 8 + 3));
  const he::ScratchWipe wipe_small(0), wipe_tmp(1);
  std::int8_t* u = small;
  std::int8_t* e0 = small + n;
  std::int8_t* e1 = small + 2 * n;
  he::sample_ternary(prng, u, n);
  he::sample_cbd(prng, e0, n);
  he::sample_cbd(prng, e1, n);
  std::uint64_t* tmp = he::scratch(1, 2 * n);
  std::uint64_t* err = tmp + n;
  for (std::size_t i = 0; i < L; ++i) {
    const Modulus& q = ctx_->modulus(i);
    const NttTables& ntt = ctx_->ntt(i);
    he::small_to_mod(u, tmp, n, q.value());
    he::forward_ntt(tmp, ntt);
    for (std::size_t k = 0; k < 2; ++k) {
      std::uint64_t* c = ct.data(k, i);
      he::eltwise_mul_mod(c, tmp, pk_.data(k, i), n, q);
      he::inverse_ntt(c, ntt);
      he::small_to_mod(k == 0 ? e0 : e1, err, n, q.value());
      he::eltwise_add_mod(c, c, err, n, q);
    }
  }
  return ct;
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) const {
  detail::check_plaintext(*ctx_, pt);
  Ciphertext ct = encrypt_zero();
  detail::add_scaled_plain(*ctx_, pt, ct.poly(0), ct.level(), false);
  return ct;
}

}  // namespace leukocrypt::bfv
