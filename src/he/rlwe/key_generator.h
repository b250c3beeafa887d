// Key generation for both schemes (lc_he_secret only: it holds the secret key). The secret is a
// fresh uniform ternary polynomial from libsodium's CSPRNG; errors are CBD(21) (sigma ~ 3.24).
// Takes any scheme context (bfv::ContextPtr and ckks::ContextPtr convert to RingContextPtr).
#pragma once

#include <vector>

#include "he/rlwe/keys.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::rlwe {

class KeyGenerator {
 public:
  // Generates a fresh secret key.
  explicit KeyGenerator(RingContextPtr ctx);
  // Derives further keys from an existing secret key (checks its params id). Takes it over: the
  // secret key is never copied.
  KeyGenerator(RingContextPtr ctx, SecretKey&& sk);

  const SecretKey& secret_key() const { return sk_; }
  // pk1 = a is expanded from a fresh 32-byte seed (kept in the key for seeded serialization).
  PublicKey create_public_key() const;
  RelinKeys create_relin_keys() const;
  // Keys for rotations by each step (non-zero, |step| < N/2) with the scheme's generator (BFV
  // rotate_rows: 3, CKKS rotate: 5); add_columns adds 2N - 1 (BFV rotate_columns, CKKS conjugate).
  GaloisKeys create_galois_keys(const std::vector<int>& steps, bool add_columns = true,
                                std::uint32_t generator = 3) const;
  GaloisKeys create_galois_keys_for_elts(const std::vector<std::uint32_t>& galois_elts) const;
  // The key-switching key of one Galois element (odd, < 2N), with its seed set: what a caller
  // that streams a key set makes one at a time (and on several threads: this is thread-safe), so
  // that the whole set never has to be in memory.
  KeySwitchKey create_galois_key(std::uint32_t galois_elt) const;

 private:
  KeySwitchKey make_key_switch_key(const std::vector<std::uint64_t>& s_from_ntt) const;
  RingContextPtr ctx_;
  SecretKey sk_;
};

}  // namespace leukocrypt::rlwe
