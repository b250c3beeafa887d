// Primality and NTT-friendly prime generation: primes p = 1 (mod 2N) admit a primitive 2N-th
// root of unity, hence a negacyclic NTT of length N.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/math/modulus.h"

namespace leukocrypt::he {

// Deterministic Miller-Rabin for every 64-bit n.
bool is_prime(std::uint64_t n);

// The first `count` primes p = 1 (mod 2^(log_n+1)) with p >= 2^bits (bits may be fractional),
// ascending. Known answer: ntt_primes(39.8, 14, 2) == {957181001729, 957181034497}.
// Throws InvalidArgument when bits, log_n or count is out of range or the search passes 2^61.
std::vector<std::uint64_t> ntt_primes(double bits, int log_n, std::size_t count);

// The largest `count` primes p = 1 (mod 2^(log_n+1)) with p < 2^bits, descending.
std::vector<std::uint64_t> ntt_primes_below(int bits, int log_n, std::size_t count);

// The smallest primitive two_n-th root of unity mod q (two_n a power of two dividing q - 1).
// Throws InvalidArgument when none exists.
std::uint64_t minimal_primitive_root(std::uint64_t two_n, const Modulus& q);

}  // namespace leukocrypt::he
