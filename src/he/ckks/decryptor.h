// CKKS decryption (lc_he_secret): the plaintext c0 + c1*s (+ c2*s^2) at the ciphertext's level
// and scale; Encoder::decode turns it into slot values. Security note (Li-Micciancio, EUROCRYPT
// 2021): a CKKS decryption is the message plus the encryption noise, so sharing decrypted values
// with the party that computed on the ciphertexts can reveal the secret key -- the key holder
// keeps decrypted results to itself.
#pragma once

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/keys.h"
#include "he/ckks/plaintext.h"

namespace leukocrypt::ckks {

class Decryptor {
 public:
  Decryptor(ContextPtr ctx, const SecretKey& sk);
  Plaintext decrypt(const Ciphertext& ct) const;

 private:
  ContextPtr ctx_;
  SecretKey sk_;
};

}  // namespace leukocrypt::ckks
