// CKKS public-key encryption (lc_he): c = (pk0*u + e0 + m, pk1*u + e1) in the NTT domain at the
// plaintext's level, carrying its scale. Thread-safe (const, fresh randomness per call).
#pragma once

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/keys.h"
#include "he/ckks/plaintext.h"

namespace leukocrypt::ckks {

class Encryptor {
 public:
  Encryptor(ContextPtr ctx, const PublicKey& pk);
  Ciphertext encrypt(const Plaintext& pt) const;
  // An encryption of zero at `level` (0: top) with the given scale (for re-randomisation).
  Ciphertext encrypt_zero(std::size_t level = 0, double scale = 1) const;

 private:
  ContextPtr ctx_;
  PublicKey pk_;
};

}  // namespace leukocrypt::ckks
