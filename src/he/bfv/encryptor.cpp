// Public-key encryption: c = (pk0*u + e0 + round(Q*m/t), pk1*u + e1) over q_0..q_{L-1}.
#include "he/bfv/encryptor.h"

#include "common/error.h"
#include "he/bfv/internal.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::bfv {

Encryptor::Encryptor(ContextPtr ctx, const PublicKey& pk) : ctx_(std::move(ctx)), pk_(pk) {
  require(ctx_ != nullptr, "Encryptor: null context");
  require(pk_.params_id() == ctx_->params_id(), "Encryptor: public key was made for other parameters (params id mismatch)");
  require(pk_.level() == ctx_->max_level() && pk_.n() == ctx_->n(), "Encryptor: public key has the wrong shape");
}

Ciphertext Encryptor::encrypt_zero() const {
  const std::size_t L = ctx_->max_level();
  Ciphertext ct(ctx_->params_id(), ctx_->n(), L, 2);
  rlwe::encrypt_zero_public(*ctx_, pk_, L, /*ntt_form=*/false, ct.poly(0), ct.poly(1));
  return ct;
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) const {
  detail::check_plaintext(*ctx_, pt);
  Ciphertext ct = encrypt_zero();
  detail::add_scaled_plain(*ctx_, pt, ct.poly(0), ct.level(), false);
  return ct;
}

}  // namespace leukocrypt::bfv
