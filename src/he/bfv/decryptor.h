// Decryption and noise measurement (lc_he_secret). decrypt computes round(t/Q * [c0 + c1*s
// (+ c2*s^2)]_Q) mod t in RNS (HPS 2018, Sec. 3 "simple scaling"); invariant_noise_budget is
// log2(Q) - log2(||t*[c(s)]_Q||) - 1 bits, computed exactly with multi-precision CRT.
#pragma once

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/keys.h"
#include "he/bfv/plaintext.h"

namespace leukocrypt::bfv {

class Decryptor {
 public:
  // Refers to sk (no copy of the secret): sk must outlive the decryptor.
  Decryptor(ContextPtr ctx, const SecretKey& sk);
  Decryptor(ContextPtr ctx, SecretKey&& sk) = delete;  // would dangle
  Plaintext decrypt(const Ciphertext& ct) const;
  // Bits of noise budget left (0 when decryption is no longer guaranteed).
  int invariant_noise_budget(const Ciphertext& ct) const;

 private:
  // x = [c0 + c1*s + ...] mod q_i, i < level, into out (level x N).
  void dot_with_secret(const Ciphertext& ct, std::uint64_t* out) const;
  ContextPtr ctx_;
  const SecretKey* sk_;
};

}  // namespace leukocrypt::bfv
