// Randomness for RLWE: a ChaCha20 stream (libsodium) that is either fresh (key from
// randombytes_buf) or expanded deterministically from a 32-byte seed, and the samplers built on
// it: uniform mod q (rejection), ternary {-1,0,1} (secrets, encryption masks) and the centred
// binomial distribution CBD(21) (errors: sigma = sqrt(10.5) ~ 3.24, |e| <= 21).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "he/math/modulus.h"

namespace leukocrypt::he {

using Seed = std::array<std::uint8_t, 32>;

// A fresh seed from the OS CSPRNG (libsodium randombytes_buf).
Seed random_seed();

class Prng {
 public:
  // Deterministic stream for (seed, domain): the same pair always gives the same bytes.
  Prng(const Seed& seed, std::uint64_t domain = 0);
  // Fresh stream (seed from randombytes_buf).
  static Prng fresh(std::uint64_t domain = 0) { return Prng(random_seed(), domain); }
  // A fresh stream's key and buffered keystream are the randomness of keys and encryptions.
  ~Prng();
  Prng(const Prng&) = default;
  Prng& operator=(const Prng&) = default;

  std::uint64_t next_u64();
  void fill(std::uint8_t* out, std::size_t bytes);

 private:
  void refill();
  Seed key_;
  std::array<std::uint8_t, 12> nonce_{};
  std::uint32_t counter_ = 0;
  std::array<std::uint8_t, 4096> buf_{};
  std::size_t pos_ = sizeof(buf_);
};

// Error bound of the CBD(21) sampler and its standard deviation.
inline constexpr int kCbdEta = 21;
inline constexpr double kErrorStddev = 3.2403703492039302;  // sqrt(21/2)

// out[0..n) uniform in [0, q).
void sample_uniform(Prng& prng, const Modulus& q, std::uint64_t* out, std::size_t n);
// out[0..n) uniform in {-1, 0, 1}.
void sample_ternary(Prng& prng, std::int8_t* out, std::size_t n);
// out[0..n) from CBD(21), in [-21, 21].
void sample_cbd(Prng& prng, std::int8_t* out, std::size_t n);

// Small signed coefficients -> residues mod q.
void small_to_mod(const std::int8_t* in, std::uint64_t* out, std::size_t n, std::uint64_t q);

}  // namespace leukocrypt::he
