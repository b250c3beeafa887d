// Secret-key encryption (lc_he_secret): c = (-(a*s) + e + round(Q*m/t), a) with a expanded from a
// fresh 32-byte seed, so the ciphertext can be stored as (c0, seed): half the size. Used by a
// client that holds the secret key to upload inputs.
#pragma once

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/keys.h"
#include "he/bfv/plaintext.h"

namespace leukocrypt::bfv {

class SymmetricEncryptor {
 public:
  // Refers to sk (no copy of the secret): sk must outlive the encryptor.
  SymmetricEncryptor(ContextPtr ctx, const SecretKey& sk);
  SymmetricEncryptor(ContextPtr ctx, SecretKey&& sk) = delete;  // would dangle
  // The returned ciphertext remembers its seed (see serialization.h, save_seeded).
  Ciphertext encrypt(const Plaintext& pt, he::Seed* seed_out = nullptr) const;

 private:
  ContextPtr ctx_;
  const SecretKey* sk_;
};

}  // namespace leukocrypt::bfv
