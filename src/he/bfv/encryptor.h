// Public-key encryption (lc_he): c = (pk0*u + e0 + round(Q*m/t), pk1*u + e1), u ternary, e_i
// CBD(21). Thread-safe (const, fresh randomness per call).
#pragma once

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/keys.h"
#include "he/bfv/plaintext.h"

namespace leukocrypt::bfv {

class Encryptor {
 public:
  Encryptor(ContextPtr ctx, const PublicKey& pk);
  Ciphertext encrypt(const Plaintext& pt) const;
  // An encryption of zero (for re-randomisation: add it to a result before returning it).
  Ciphertext encrypt_zero() const;

 private:
  ContextPtr ctx_;
  PublicKey pk_;
};

}  // namespace leukocrypt::bfv
