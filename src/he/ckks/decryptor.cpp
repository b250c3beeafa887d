// CKKS decryption: rlwe::dot_with_secret in the NTT domain.
#include "he/ckks/decryptor.h"

#include "common/error.h"
#include "he/ckks/internal.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::ckks {

Decryptor::Decryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), sk_(sk) {
  require(ctx_ != nullptr, "Decryptor: null context");
  require(sk_.params_id() == ctx_->params_id(), "Decryptor: secret key was made for other parameters");
}

Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  detail::check_ciphertext(*ctx_, ct, "decrypt");
  Plaintext pt(ctx_->params_id(), ctx_->n(), ct.level(), ct.scale());
  rlwe::dot_with_secret(*ctx_, sk_, ct.raw(), ct.size(), ct.level(), /*ntt_form=*/true, pt.raw());
  return pt;
}

}  // namespace leukocrypt::ckks
