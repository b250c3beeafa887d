// CKKS public-key encryption: rlwe::encrypt_zero_public in the NTT domain, plus the plaintext.
#include "he/ckks/encryptor.h"

#include "common/error.h"
#include "he/ckks/internal.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::ckks {

Encryptor::Encryptor(ContextPtr ctx, const PublicKey& pk) : ctx_(std::move(ctx)), pk_(pk) {
  require(ctx_ != nullptr, "Encryptor: null context");
  require(pk_.params_id() == ctx_->params_id(), "Encryptor: public key was made for other parameters (params id mismatch)");
  require(pk_.level() == ctx_->max_level() && pk_.n() == ctx_->n(), "Encryptor: public key has the wrong shape");
}

Ciphertext Encryptor::encrypt_zero(std::size_t level, double scale) const {
  if (level == 0) level = ctx_->max_level();
  require(level >= 1 && level <= ctx_->max_level(), "encrypt_zero: level " + std::to_string(level) + " out of range");
  require(scale > 0, "encrypt_zero: scale must be positive");
  Ciphertext ct(ctx_->params_id(), ctx_->n(), level, 2, scale);
  rlwe::encrypt_zero_public(*ctx_, pk_, level, /*ntt_form=*/true, ct.poly(0), ct.poly(1));
  return ct;
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) const {
  detail::check_plaintext(*ctx_, pt, "encrypt");
  Ciphertext ct = encrypt_zero(pt.level(), pt.scale());
  detail::add_plain_rows(*ctx_, pt, ct.poly(0), pt.level(), false);
  return ct;
}

}  // namespace leukocrypt::ckks
