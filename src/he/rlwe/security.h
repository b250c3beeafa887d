// Parameter checks shared by the schemes: the HomomorphicEncryption.org 128-bit table for a
// ternary secret (Albrecht et al., "Homomorphic Encryption Standard", 2018, Table 1) and the
// shape of an RNS modulus chain (NTT-friendly, distinct primes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace leukocrypt::rlwe {

enum class Security : std::uint8_t {
  k128 = 0,              // HomomorphicEncryption.org classical 128-bit, ternary secret
  kInsecureForTests = 1  // no check: tiny parameters for unit tests only
};

// Max log2(q*p) for 128-bit classical security with a ternary secret; 0 when N is not in the
// table (1024..32768).
int max_secure_bits(std::size_t n);

// Throws SecurityError ("<who>: log2(q*p) = ... exceeds the 128-bit limit ...") when N is not in
// the table or log2_qp exceeds its bound.
void require_128_bit(std::size_t n, double log2_qp, const char* who);

// Throws InvalidArgument naming the prime ("<who>: q_1=... is not prime") unless every prime of
// q and the special primes lies in [2^17, 2^60), is prime, is 1 mod 2N, and none repeats. N must
// be a power of two in [8, 32768], q must hold 1..60 primes and specials 1..60; with several
// special primes every prime must be below 2^50 (hybrid key switching runs on the SIMD kernels).
void require_ntt_primes(std::size_t n, const std::vector<std::uint64_t>& q, const std::vector<std::uint64_t>& specials,
                        const char* who);

}  // namespace leukocrypt::rlwe
