// Scalar NTT: known answer against direct evaluation at the odd powers of psi, round trips and
// the negacyclic convolution property for several sizes and 20..61-bit primes.
#include "he/kernels/ntt.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "common/error.h"
#include "he/math/primes.h"

namespace leukocrypt::he {
namespace {

std::vector<std::uint64_t> random_poly(std::size_t n, std::uint64_t bound, std::mt19937_64& rng) {
  std::vector<std::uint64_t> a(n);
  for (auto& x : a) x = rng() % bound;
  return a;
}

// Schoolbook product in Z_q[X]/(X^n + 1).
std::vector<std::uint64_t> negacyclic_product(const std::vector<std::uint64_t>& a,
                                              const std::vector<std::uint64_t>& b, const Modulus& q) {
  const std::size_t n = a.size();
  std::vector<std::uint64_t> c(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      std::uint64_t p = mul_mod(a[i], b[j], q);
      std::size_t k = i + j;
      if (k < n) c[k] = add_mod(c[k], p, q.value());
      else c[k - n] = sub_mod(c[k - n], p, q.value());
    }
  }
  return c;
}

std::size_t bit_reverse(std::size_t x, int bits) {
  std::size_t r = 0;
  for (int i = 0; i < bits; ++i, x >>= 1) r = (r << 1) | (x & 1);
  return r;
}

struct Case {
  int bits;
  int log_n;
};

// The largest NTT prime below 2^bits for each case; 20..61 bits, n = 8..4096.
const Case kCases[] = {{20, 3}, {20, 10}, {27, 5}, {30, 12}, {40, 11}, {45, 4}, {50, 12},
                       {52, 9}, {55, 10}, {59, 6}, {60, 12}, {61, 8}, {61, 12}};

TEST(Ntt, KnownAnswerIsEvaluationAtOddPowersOfPsi) {
  // Output k holds a(psi^(2 * bitrev(k) + 1)).
  std::mt19937_64 rng(10);
  for (int log_n : {3, 4, 6}) {
    const std::size_t n = std::size_t{1} << log_n;
    Modulus q(ntt_primes(40, log_n, 1)[0]);
    NttTables tables(n, q);
    auto a = random_poly(n, q.value(), rng);
    auto out = a;
    scalar::forward_ntt(out.data(), tables);
    for (std::size_t k = 0; k < n; ++k) {
      std::uint64_t x = pow_mod(tables.psi(), 2 * bit_reverse(k, log_n) + 1, q);
      std::uint64_t v = 0;
      for (std::size_t i = n; i-- > 0;) v = add_mod(mul_mod(v, x, q), a[i], q.value());  // Horner
      EXPECT_EQ(out[k], v) << "n=" << n << " k=" << k;
    }
  }
}

TEST(Ntt, FixedVectorKnownAnswer) {
  // q = 17 = 1 mod 16, n = 8: psi = 3 is the minimal primitive 16th root mod 17.
  NttTables tables(8, Modulus(17));
  EXPECT_EQ(tables.psi(), 3u);
  std::vector<std::uint64_t> a = {1, 2, 3, 4, 5, 6, 7, 8};
  scalar::forward_ntt(a.data(), tables);
  // Direct evaluation of 1 + 2x + ... + 8x^7 at 3^(2*bitrev(k)+1) mod 17.
  EXPECT_EQ(a, (std::vector<std::uint64_t>{5, 0, 13, 8, 9, 11, 5, 8}));
  scalar::inverse_ntt(a.data(), tables);
  EXPECT_EQ(a, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(Ntt, RoundTripAndRanges) {
  std::mt19937_64 rng(11);
  for (const Case& c : kCases) {
    const std::size_t n = std::size_t{1} << c.log_n;
    Modulus q(ntt_primes_below(c.bits, c.log_n, 1)[0]);
    NttTables tables(n, q);
    auto a = random_poly(n, q.value(), rng);
    a[0] = 0;
    a[n - 1] = q.value() - 1;
    auto b = a;
    scalar::forward_ntt(b.data(), tables);
    for (auto v : b) ASSERT_LT(v, q.value());
    auto lazy = a;
    scalar::forward_ntt_lazy(lazy.data(), tables);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_LT(lazy[i], 4 * q.value());
      ASSERT_EQ(lazy[i] % q.value(), b[i]);
    }
    scalar::inverse_ntt(b.data(), tables);
    EXPECT_EQ(a, b) << "bits=" << c.bits << " n=" << n;
  }
}

TEST(Ntt, LazyInputRanges) {
  // forward_ntt_lazy accepts [0, 4q); inverse_ntt accepts [0, 2q).
  std::mt19937_64 rng(12);
  for (const Case& c : kCases) {
    const std::size_t n = std::size_t{1} << c.log_n;
    const std::uint64_t qv = ntt_primes_below(c.bits, c.log_n, 1)[0];
    NttTables tables(n, Modulus(qv));
    auto a = random_poly(n, 4 * qv, rng);
    a[0] = 4 * qv - 1;
    auto reduced = a;
    for (auto& v : reduced) v %= qv;
    auto x = a, y = reduced;
    scalar::forward_ntt_lazy(x.data(), tables);
    scalar::forward_ntt(y.data(), tables);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(x[i] % qv, y[i]);
    for (std::size_t i = 0; i < n; ++i) x[i] = y[i] + (rng() & 1) * qv;  // in [0, 2q)
    x[1] = y[1] + qv;
    scalar::inverse_ntt(x.data(), tables);
    EXPECT_EQ(x, reduced) << "bits=" << c.bits << " n=" << n;
  }
}

TEST(Ntt, PointwiseProductIsNegacyclicConvolution) {
  std::mt19937_64 rng(13);
  for (const Case& c : kCases) {
    if (c.log_n > 10) continue;  // schoolbook product is O(n^2)
    const std::size_t n = std::size_t{1} << c.log_n;
    Modulus q(ntt_primes_below(c.bits, c.log_n, 1)[0]);
    NttTables tables(n, q);
    auto a = random_poly(n, q.value(), rng);
    auto b = random_poly(n, q.value(), rng);
    auto expected = negacyclic_product(a, b, q);
    scalar::forward_ntt(a.data(), tables);
    scalar::forward_ntt(b.data(), tables);
    for (std::size_t i = 0; i < n; ++i) a[i] = mul_mod(a[i], b[i], q);
    scalar::inverse_ntt(a.data(), tables);
    EXPECT_EQ(a, expected) << "bits=" << c.bits << " n=" << n;
  }
}

TEST(Ntt, TablesRejectBadArguments) {
  EXPECT_THROW(NttTables(4, Modulus(17)), InvalidArgument);
  EXPECT_THROW(NttTables(12, Modulus(73)), InvalidArgument);
  EXPECT_THROW(NttTables(16, Modulus(17)), InvalidArgument);  // 17 != 1 mod 32
  EXPECT_THROW(NttTables(8, Modulus(33)), InvalidArgument);   // not prime
  NttTables t(1024, Modulus(ntt_primes_below(50, 10, 1)[0]));
  EXPECT_TRUE(t.has_ifma_quotients());
  EXPECT_FALSE(NttTables(1024, Modulus(ntt_primes(55, 10, 1)[0])).has_ifma_quotients());
}

}  // namespace
}  // namespace leukocrypt::he
