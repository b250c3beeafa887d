// Modulus, Barrett reduction, Shoup operands, pow/inv against 128-bit reference arithmetic.
#include "he/math/modulus.h"

#include <gtest/gtest.h>

#include <random>

#include "common/error.h"

namespace leukocrypt::he {
namespace {

std::uint64_t ref_mod(u128 x, std::uint64_t q) { return static_cast<std::uint64_t>(x % q); }

const std::uint64_t kModuli[] = {2, 3, 17, 65537, 1048583, 957181001729, (1ull << 50) - 27,
                                 (1ull << 60) - 93, (1ull << 61) - 1, 1ull << 40};

TEST(Modulus, RejectsOutOfRange) {
  EXPECT_THROW(Modulus(0), InvalidArgument);
  EXPECT_THROW(Modulus(1), InvalidArgument);
  EXPECT_THROW(Modulus(1ull << 61), InvalidArgument);
  EXPECT_NO_THROW(Modulus((1ull << 61) - 1));
  EXPECT_EQ(Modulus(957181001729).bit_count(), 40);
}

TEST(Modulus, BarrettConstantIsFloorOf2To128OverQ) {
  for (std::uint64_t q : kModuli) {
    Modulus m(q);
    u128 r = (static_cast<u128>(m.barrett_hi()) << 64) | m.barrett_lo();
    // r * q <= 2^128 < (r + 1) * q, checked as r * q in (2^128 - q, 2^128] modulo 2^128.
    u128 rq = r * q;
    EXPECT_TRUE(rq == 0 || rq > static_cast<u128>(0) - q) << q;
  }
}

TEST(Modulus, ReduceMatchesReference) {
  std::mt19937_64 rng(1);
  for (std::uint64_t q : kModuli) {
    Modulus m(q);
    const std::uint64_t edges[] = {0, 1, q - 1, q, q + 1, 2 * q - 1, ~0ull, ~0ull - 1};
    for (std::uint64_t a : edges) EXPECT_EQ(m.reduce(a), a % q) << q << " " << a;
    for (int i = 0; i < 2000; ++i) {
      std::uint64_t a = rng();
      EXPECT_EQ(m.reduce(a), a % q);
      std::uint64_t hi = rng(), lo = rng();
      EXPECT_EQ(m.reduce128(hi, lo), ref_mod((static_cast<u128>(hi) << 64) | lo, q));
    }
    EXPECT_EQ(m.reduce128(~0ull, ~0ull), ref_mod(~static_cast<u128>(0), q));
    EXPECT_EQ(m.reduce128(0, 0), 0u);
  }
}

TEST(Modulus, ArithmeticMatchesReference) {
  std::mt19937_64 rng(2);
  for (std::uint64_t q : kModuli) {
    Modulus m(q);
    for (int i = 0; i < 2000; ++i) {
      std::uint64_t a = rng() % q, b = rng() % q;
      if (i == 0) a = b = q - 1;
      EXPECT_EQ(add_mod(a, b, q), ref_mod(static_cast<u128>(a) + b, q));
      EXPECT_EQ(sub_mod(a, b, q), ref_mod(static_cast<u128>(a) + q - b, q));
      EXPECT_EQ(neg_mod(a, q), (q - a) % q);
      EXPECT_EQ(mul_mod(a, b, m), ref_mod(static_cast<u128>(a) * b, q));
      ShoupOperand w = make_shoup(b, q);
      std::uint64_t x = rng();
      std::uint64_t lazy = mul_mod_shoup_lazy(x, w, q);
      EXPECT_LT(lazy, 2 * q);
      EXPECT_EQ(lazy % q, ref_mod(static_cast<u128>(x) * b, q));
      EXPECT_EQ(mul_mod_shoup(x, w, q), ref_mod(static_cast<u128>(x) * b, q));
    }
  }
}

TEST(Modulus, PowAndInverse) {
  Modulus m(957181001729);
  EXPECT_EQ(pow_mod(3, 0, m), 1u);
  EXPECT_EQ(pow_mod(2, 10, m), 1024u);
  // Fermat: a^(q-1) = 1 for a prime q.
  EXPECT_EQ(pow_mod(123456789, m.value() - 1, m), 1u);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100; ++i) {
    std::uint64_t a = rng() % (m.value() - 1) + 1;
    EXPECT_EQ(mul_mod(a, inv_mod(a, m), m), 1u);
  }
  EXPECT_THROW(inv_mod(0, m), InvalidArgument);
  EXPECT_THROW(inv_mod(6, Modulus(9)), InvalidArgument);
  EXPECT_EQ(inv_mod(2, Modulus(9)), 5u);
}

}  // namespace
}  // namespace leukocrypt::he
