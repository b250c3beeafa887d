// CKKS secret-key encryption (lc_he_secret): c = (-(a*s) + e + m, a) in the NTT domain with a
// expanded from a fresh 32-byte seed, so the ciphertext can be stored as (c0, seed): half the
// size (serialization.h, save_seeded). For a client that holds the secret key.
#pragma once

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/keys.h"
#include "he/ckks/plaintext.h"
#include "he/ring/sampler.h"

namespace leukocrypt::ckks {

class SymmetricEncryptor {
 public:
  SymmetricEncryptor(ContextPtr ctx, const SecretKey& sk);
  // At the plaintext's level and scale; seed_out receives the seed of c1.
  Ciphertext encrypt(const Plaintext& pt, he::Seed* seed_out = nullptr) const;

 private:
  ContextPtr ctx_;
  SecretKey sk_;
};

}  // namespace leukocrypt::ckks
