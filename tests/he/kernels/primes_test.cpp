// Primality, NTT prime search (known answer from the CryptoNets paper) and primitive roots.
#include "he/math/primes.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace leukocrypt::he {
namespace {

TEST(Primes, IsPrimeKnownValues) {
  EXPECT_FALSE(is_prime(0));
  EXPECT_FALSE(is_prime(1));
  EXPECT_TRUE(is_prime(2));
  EXPECT_TRUE(is_prime(37));
  EXPECT_FALSE(is_prime(561));                    // Carmichael
  EXPECT_FALSE(is_prime(3215031751ull));          // strong pseudoprime to bases 2, 3, 5, 7
  EXPECT_TRUE(is_prime((1ull << 61) - 1));        // Mersenne prime
  EXPECT_FALSE(is_prime((1ull << 61) + 1));
  EXPECT_TRUE(is_prime(18446744073709551557ull));  // largest 64-bit prime
  EXPECT_FALSE(is_prime(18446744073709551615ull));
  EXPECT_FALSE(is_prime(4294967297ull));           // 641 * 6700417
  int count = 0;
  for (std::uint64_t n = 0; n < 10000; ++n) count += is_prime(n);
  EXPECT_EQ(count, 1229);
}

TEST(Primes, CryptoNetsPlaintextPrimes) {
  EXPECT_EQ(ntt_primes(39.8, 14, 2), (std::vector<std::uint64_t>{957181001729, 957181034497}));
}

TEST(Primes, NttPrimesAreAscendingAndCongruent) {
  auto p = ntt_primes(30, 12, 5);
  ASSERT_EQ(p.size(), 5u);
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_TRUE(is_prime(p[i]));
    EXPECT_EQ(p[i] % 8192, 1u);
    EXPECT_GE(p[i], 1ull << 30);
    if (i) { EXPECT_GT(p[i], p[i - 1]); }
  }
  // Nothing skipped: no NTT prime between 2^30 and the first one.
  for (std::uint64_t c = (1ull << 30) + 1; c < p[0]; c += 8192) EXPECT_FALSE(is_prime(c));
}

TEST(Primes, NttPrimesBelowAreDescending) {
  auto p = ntt_primes_below(50, 13, 4);
  ASSERT_EQ(p.size(), 4u);
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_TRUE(is_prime(p[i]));
    EXPECT_EQ(p[i] % 16384, 1u);
    EXPECT_LT(p[i], 1ull << 50);
    if (i) { EXPECT_LT(p[i], p[i - 1]); }
  }
  for (std::uint64_t c = (1ull << 50) - 16383; c > p[0]; c -= 16384) EXPECT_FALSE(is_prime(c));
  EXPECT_EQ(ntt_primes_below(61, 15, 1)[0] >> 60, 1u);
}

TEST(Primes, RejectsBadArguments) {
  EXPECT_THROW(ntt_primes(0.5, 10, 1), InvalidArgument);
  EXPECT_THROW(ntt_primes(61, 10, 1), InvalidArgument);
  EXPECT_THROW(ntt_primes(30, 0, 1), InvalidArgument);
  EXPECT_THROW(ntt_primes(30, 10, 0), InvalidArgument);
  EXPECT_THROW(ntt_primes_below(62, 10, 1), InvalidArgument);
  EXPECT_THROW(ntt_primes_below(12, 12, 1), InvalidArgument);
  EXPECT_THROW(ntt_primes_below(20, 16, 1000), InvalidArgument);  // not that many
}

TEST(Primes, MinimalPrimitiveRoot) {
  for (std::uint64_t q : ntt_primes(40, 12, 3)) {
    Modulus m(q);
    std::uint64_t two_n = 8192;
    std::uint64_t psi = minimal_primitive_root(two_n, m);
    EXPECT_EQ(pow_mod(psi, two_n / 2, m), q - 1);  // order exactly 2N
    EXPECT_EQ(pow_mod(psi, two_n, m), 1u);
    // Minimal: no smaller element is a primitive 2N-th root.
    for (std::uint64_t x = 2; x < psi && x < 2000; ++x) EXPECT_NE(pow_mod(x, two_n / 2, m), q - 1);
  }
  EXPECT_THROW(minimal_primitive_root(64, Modulus(97)), InvalidArgument);   // 64 does not divide 96
  EXPECT_THROW(minimal_primitive_root(12, Modulus(97)), InvalidArgument);   // not a power of two
}

}  // namespace
}  // namespace leukocrypt::he
