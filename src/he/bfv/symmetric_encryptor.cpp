// Secret-key encryption with a seeded uniform part: c1 = a (expanded from a fresh seed, sampled
// in the coefficient domain), c0 = -(a*s) + e + round(Q*m/t).
#include "he/bfv/symmetric_encryptor.h"

#include "common/error.h"
#include "he/bfv/internal.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::bfv {

SymmetricEncryptor::SymmetricEncryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), sk_(sk) {
  require(ctx_ != nullptr, "SymmetricEncryptor: null context");
  require(sk_.params_id() == ctx_->params_id(), "SymmetricEncryptor: secret key was made for other parameters");
}

Ciphertext SymmetricEncryptor::encrypt(const Plaintext& pt, he::Seed* seed_out) const {
  detail::check_plaintext(*ctx_, pt);
  const std::size_t L = ctx_->max_level();
  Ciphertext ct(ctx_->params_id(), ctx_->n(), L, 2);
  const he::Seed seed = he::random_seed();
  rlwe::encrypt_zero_symmetric(*ctx_, sk_, seed, L, /*ntt_form=*/false, ct.poly(0), ct.poly(1));
  detail::add_scaled_plain(*ctx_, pt, ct.poly(0), L, false);
  if (seed_out) *seed_out = seed;
  return ct;
}

}  // namespace leukocrypt::bfv
