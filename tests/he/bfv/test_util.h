// Shared fixtures for the BFV tests: tiny insecure parameter sets (named as such) and helpers.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "he/bfv/batch_encoder.h"
#include "he/bfv/context.h"
#include "he/bfv/decryptor.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/key_generator.h"
#include "he/bfv/params.h"

namespace leukocrypt::bfv::testing {

// N = 64, t = 257, three 40-bit ciphertext primes + a 41-bit special prime: INSECURE, tests only.
// Plaintext moduli above 2^32 get four 55-bit primes (+ 56-bit special) for depth 2.
inline Params tiny_insecure_params(std::uint64_t t = 257, std::size_t n = 64) {
  if (t > (1ULL << 32)) return Params::create(n, {55, 55, 55, 55, 56}, t, Security::kInsecureForTests);
  return Params::create(n, {40, 40, 40, 41}, t, Security::kInsecureForTests);
}

// The same with k special primes (hybrid key switching: digits of k primes; every prime below
// 2^50): five 40-bit ciphertext primes (t > 2^32: five 50-bit) and k special primes of one bit
// more, so that k = 2 and k = 3 both end in a partial digit. k = 1 is tiny_insecure_params.
inline Params tiny_insecure_params_hybrid(std::uint64_t t, std::size_t k, std::size_t n = 64) {
  if (k == 1) return tiny_insecure_params(t, n);
  const int b = t > (1ULL << 32) ? 49 : 40;
  std::vector<int> bits(5, b);
  bits.insert(bits.end(), k, b + 1);
  return Params::create(n, bits, t, Security::kInsecureForTests, k);
}

struct Keys {
  ContextPtr ctx;
  KeyGenerator keygen;
  PublicKey pk;
  RelinKeys rk;
  explicit Keys(const Params& p)
      : ctx(Context::create(p)), keygen(ctx), pk(keygen.create_public_key()), rk(keygen.create_relin_keys()) {}
};

inline std::vector<std::uint64_t> random_slots(std::size_t n, std::uint64_t t, std::mt19937_64& rng) {
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) x = rng() % t;
  return v;
}

}  // namespace leukocrypt::bfv::testing
