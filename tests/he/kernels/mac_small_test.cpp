// The lazy small-weight multiply-add (eltwise_mac_small) and its overflow check: the scalar
// reference equals exact 128-bit arithmetic, every ISA's kernel equals the scalar one bit for bit
// (unreduced accumulators included), for moduli of 20..61 bits, edge inputs (0, q - 1, q) and
// weights (0, +-1, the largest that fit), and lengths that exercise the vector tails.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "he/kernels/dispatch.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/kernel_table.h"
#include "he/math/primes.h"

namespace leukocrypt::he {
namespace {

const int kBits[] = {20, 25, 30, 35, 40, 45, 48, 49, 50, 51, 55, 60, 61};

std::uint64_t abs_u(std::int64_t w) { return w < 0 ? 0 - std::uint64_t(w) : std::uint64_t(w); }

// Weights for one row: random small signed values, a few at the largest magnitude that still fits.
std::vector<std::int64_t> row_weights(const Modulus& q, std::size_t taps, std::mt19937_64& rng) {
  const std::uint64_t budget = std::uint64_t((~u128(0) >> 64) / q.value()) - 1;  // sum |w| + 1 <= 2^64 / q
  const std::uint64_t per = std::min<std::uint64_t>(budget / taps, (1ull << 32) - 1);
  std::vector<std::int64_t> w(taps);
  for (std::size_t k = 0; k < taps; ++k) {
    const std::uint64_t mag = (k % 4 == 0) ? per : rng() % (per + 1);
    w[k] = (rng() & 1) ? -std::int64_t(mag) : std::int64_t(mag);
  }
  if (taps > 2) w[1] = 0, w[2] = -1;
  return w;
}

std::vector<std::uint64_t> row_input(std::size_t n, std::uint64_t q, int k, std::mt19937_64& rng) {
  std::vector<std::uint64_t> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch ((k + i) % 5) {
      case 0: x[i] = 0; break;
      case 1: x[i] = q - 1; break;
      case 2: x[i] = q; break;  // allowed: the kernel takes x in [0, q]
      default: x[i] = rng() % q; break;
    }
  }
  return x;
}

std::vector<const KernelTable*> simd_tables() {
  std::vector<const KernelTable*> t;
  for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kAvx512, KernelIsa::kAvx512Ifma})
    if (isa_supported(isa)) t.push_back(&kernel_table(isa));
  return t;
}

TEST(MacSmall, ScalarEqualsExactArithmeticAndEverySimdKernelEqualsScalar) {
  std::mt19937_64 rng(5);
  for (int bits : kBits) {
    const Modulus q(ntt_primes_below(bits, 4, 1)[0]);
    for (std::size_t n : {1u, 7u, 8u, 9u, 256u, 263u}) {
      const std::size_t taps = 1 + rng() % 40;
      const auto w = row_weights(q, taps, rng);
      ASSERT_TRUE(lazy_mac_fits(w.data(), w.size(), q)) << bits;
      std::vector<std::uint64_t> acc0(n);
      for (auto& a : acc0) a = rng() % q.value();
      std::vector<u128> exact(acc0.begin(), acc0.end());  // sum of w * x mod q, as non-negative
      auto ref = acc0;
      std::vector<std::vector<std::uint64_t>> got(simd_tables().size(), acc0);
      for (std::size_t k = 0; k < taps; ++k) {
        const auto x = row_input(n, q.value(), int(k), rng);
        scalar::eltwise_mac_small(ref.data(), x.data(), w[k], n, q);
        for (std::size_t t = 0; t < got.size(); ++t) simd_tables()[t]->mac_small(got[t].data(), x.data(), w[k], n, q);
        for (std::size_t i = 0; i < n; ++i) {
          const u128 xr = x[i] % q.value();
          exact[i] = (exact[i] + (w[k] >= 0 ? u128(abs_u(w[k])) * xr
                                            : u128(abs_u(w[k])) * ((q.value() - xr) % q.value()))) % q.value();
        }
      }
      const std::string where = "bits=" + std::to_string(bits) + " n=" + std::to_string(n);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(q.reduce(ref[i]), std::uint64_t(exact[i])) << where << " i=" << i;
      for (std::size_t t = 0; t < got.size(); ++t)
        ASSERT_EQ(got[t], ref) << to_string(simd_tables()[t]->isa) << " " << where;
      // The final reduction, through the dispatched kernel.
      std::vector<std::uint64_t> out(n);
      eltwise_reduce_mod(out.data(), ref.data(), n, q);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], std::uint64_t(exact[i])) << where;
    }
  }
}

TEST(MacSmall, LargestWeightAndLargestInputsFillTheAccumulatorExactly) {
  // One tap of |w| = 2^32 - 1 on a 31-bit modulus: (1 + |w|) * q < 2^64, the products use every
  // bit of the 32 x 32 -> 64 multiplies, and x = q makes the negative term as large as it gets.
  const Modulus q(ntt_primes_below(31, 4, 1)[0]);
  const std::int64_t w_max = (std::int64_t{1} << 32) - 1;
  ASSERT_TRUE(lazy_mac_fits(&w_max, 1, q));
  const std::vector<std::uint64_t> x = {0, 1, q.value() - 1, q.value(), 0, q.value(), q.value() - 1, 1, q.value()};
  for (std::int64_t w : {w_max, -w_max}) {
    std::vector<std::uint64_t> ref(x.size(), q.value() - 1);
    auto got = ref;
    scalar::eltwise_mac_small(ref.data(), x.data(), w, x.size(), q);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const u128 term = u128(abs_u(w)) * (w >= 0 ? x[i] : q.value() - x[i]);
      ASSERT_EQ(u128(ref[i]), term + q.value() - 1) << i;
    }
    for (const KernelTable* t : simd_tables()) {
      t->mac_small(got.data(), x.data(), w, x.size(), q);
      EXPECT_EQ(got, ref) << to_string(t->isa);
      got.assign(x.size(), q.value() - 1);
    }
  }
}

TEST(MacSmall, FitCheckRefusesRowsOverTheBound) {
  const Modulus q50(ntt_primes_below(50, 4, 1)[0]);
  // (1 + sum |w|) * q < 2^64 <=> sum |w| < 2^64 / q - 1 (about 2^14 for a 50-bit q).
  const std::int64_t limit = std::int64_t((~u128(0) >> 64) / q50.value()) - 1;
  std::vector<std::int64_t> w = {limit / 2, -(limit - limit / 2)};
  EXPECT_TRUE(lazy_mac_fits(w.data(), w.size(), q50));
  w[1] -= 1;
  EXPECT_FALSE(lazy_mac_fits(w.data(), w.size(), q50));
  const std::int64_t too_wide[] = {std::int64_t{1} << 32};  // beyond the 32-bit multiplier
  EXPECT_FALSE(lazy_mac_fits(too_wide, 1, Modulus(ntt_primes_below(20, 4, 1)[0])));
  const std::int64_t none[] = {0};
  EXPECT_TRUE(lazy_mac_fits(none, 0, q50));
  const Modulus q61(ntt_primes_below(61, 4, 1)[0]);
  const std::int64_t seven[] = {3, -3}, ten[] = {5, -4};
  EXPECT_TRUE(lazy_mac_fits(seven, 2, q61));  // 7 * q < 2^64 for q < 2^61
  EXPECT_FALSE(lazy_mac_fits(ten, 2, q61));   // 10 * q > 2^64 for q > 2^60.7
}

}  // namespace
}  // namespace leukocrypt::he
