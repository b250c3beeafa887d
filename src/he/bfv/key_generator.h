// Key generation (lc_he_secret only: it holds the secret key). The secret is a fresh uniform
// ternary polynomial from libsodium's CSPRNG; errors are CBD(21) (sigma ~ 3.24).
#pragma once

#include <vector>

#include "he/bfv/context.h"
#include "he/bfv/keys.h"

namespace leukocrypt::bfv {

class KeyGenerator {
 public:
  // Generates a fresh secret key.
  explicit KeyGenerator(ContextPtr ctx);
  // Derives further keys from an existing secret key (checks its params id). Takes it over: the
  // secret key is never copied.
  KeyGenerator(ContextPtr ctx, SecretKey&& sk);

  const SecretKey& secret_key() const { return sk_; }
  // pk1 = a is expanded from a fresh 32-byte seed (kept in the key for seeded serialization).
  PublicKey create_public_key() const;
  RelinKeys create_relin_keys() const;
  // Keys for rotate_rows by each step (non-zero, |step| < N/2); add_columns adds rotate_columns.
  GaloisKeys create_galois_keys(const std::vector<int>& steps, bool add_columns = true) const;
  GaloisKeys create_galois_keys_for_elts(const std::vector<std::uint32_t>& galois_elts) const;

 private:
  KeySwitchKey make_key_switch_key(const std::vector<std::uint64_t>& s_from_ntt) const;
  ContextPtr ctx_;
  SecretKey sk_;
};

}  // namespace leukocrypt::bfv
