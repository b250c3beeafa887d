// CKKS secret-key encryption: rlwe::encrypt_zero_symmetric in the NTT domain, plus the plaintext.
#include "he/ckks/symmetric_encryptor.h"

#include "common/error.h"
#include "he/ckks/internal.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::ckks {

SymmetricEncryptor::SymmetricEncryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), sk_(sk) {
  require(ctx_ != nullptr, "SymmetricEncryptor: null context");
  require(sk_.params_id() == ctx_->params_id(), "SymmetricEncryptor: secret key was made for other parameters");
}

Ciphertext SymmetricEncryptor::encrypt(const Plaintext& pt, he::Seed* seed_out) const {
  detail::check_plaintext(*ctx_, pt, "encrypt");
  Ciphertext ct(ctx_->params_id(), ctx_->n(), pt.level(), 2, pt.scale());
  const he::Seed seed = he::random_seed();
  rlwe::encrypt_zero_symmetric(*ctx_, sk_, seed, pt.level(), /*ntt_form=*/true, ct.poly(0), ct.poly(1));
  detail::add_plain_rows(*ctx_, pt, ct.poly(0), pt.level(), false);
  if (seed_out) *seed_out = seed;
  return ct;
}

}  // namespace leukocrypt::ckks
