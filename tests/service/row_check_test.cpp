// The full-width check of ciphertext rows: uniform rows (what a fresh encryption gives) always
// pass; zero, constant, small-valued, narrow-range and few-valued rows fail.
#include "service/row_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace leukocrypt::service {
namespace {

std::vector<std::uint64_t> uniform_row(std::size_t n, std::uint64_t q, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint64_t> d(0, q - 1);
  std::vector<std::uint64_t> row(n);
  for (auto& x : row) x = d(rng);
  return row;
}

TEST(RowCheck, UniformRowsPass) {
  std::mt19937_64 rng(11);
  // Primes of the sizes the project uses (tests' 50-bit, 30-bit), and a small 20-bit one.
  for (std::uint64_t q : {1125899906826241ull, 1073479681ull, 786433ull})
    for (std::size_t n : {16u, 256u, 4096u, 16384u}) {
      const int rows = n <= 256 ? 2000 : 50;
      for (int r = 0; r < rows; ++r) {
        auto row = uniform_row(n, q, rng);
        ASSERT_EQ(check_full_width_row(row.data(), n, q), "") << "n " << n << " q " << q;
      }
    }
}

TEST(RowCheck, LowEntropyRowsFail) {
  const std::uint64_t q = 1125899906826241ull;
  std::mt19937_64 rng(12);
  for (std::size_t n : {256u, 8192u}) {
    std::vector<std::uint64_t> zero(n, 0), constant(n, q / 3), small(n), narrow(n), few(n), top(n);
    for (std::size_t i = 0; i < n; ++i) {
      small[i] = rng() % 1000;                  // |values| tiny: an unencrypted message
      narrow[i] = q / 2 + rng() % (q / 64);     // high entropy but a sliver of [0, q)
      few[i] = (i % 16) * (q / 16) + 5;         // evenly spread over 16 values
      top[i] = q - 1 - rng() % (q / 8);         // an eighth of the range
    }
    for (const auto* row : {&zero, &constant, &small, &narrow, &few, &top})
      EXPECT_NE(check_full_width_row(row->data(), n, q), "") << "n " << n;
  }
  std::vector<std::uint64_t> zero16(16, 0);
  EXPECT_NE(check_full_width_row(zero16.data(), 16, q), "");  // the entropy test covers tiny rings
}

// The reference the O(N) check must agree with: a 128-bit division per coefficient for the
// buckets and a sort for the distinct values (the implementation before the O(N) one).
bool reference_passes(const std::uint64_t* row, std::size_t n, std::uint64_t q) {
  if (n < 16) return true;
  std::array<std::size_t, 16> count{};
  for (std::size_t i = 0; i < n; ++i) count[static_cast<std::size_t>((static_cast<unsigned __int128>(row[i]) * 16) / q)]++;
  const double mean = double(n) / 16, slack = 10.0 * std::sqrt(mean * (1.0 - 1.0 / 16)) + 8.0;
  for (auto c : count)
    if (std::abs(double(c) - mean) > slack) return false;
  if (q / 64 < n) return true;
  std::vector<std::uint64_t> sorted(row, row + n);
  std::sort(sorted.begin(), sorted.end());
  return std::size_t(std::unique(sorted.begin(), sorted.end()) - sorted.begin()) >= n - n / 8;
}

// Rows at the edges of both tests: bucket counts at the slack, values at the bucket bounds
// ceil(b q / 16) and one below, distinct counts at the threshold n - n/8 and one below; the O(N)
// check gives the reference's answer on every one.
TEST(RowCheck, AgreesWithTheDivisionAndSortReference) {
  std::mt19937_64 rng(13);
  int passed = 0, failed = 0;
  for (std::uint64_t q : {1125899906826241ull, 1073479681ull, 786433ull, 17ull, 13ull})
    for (std::size_t n : {16u, 256u, 4096u}) {
      for (int trial = 0; trial < 40; ++trial) {
        auto row = uniform_row(n, q, rng);
        // Bucket edges: some coefficients exactly at ceil(b q / 16) or one below.
        for (std::size_t i = 0; i < n; i += 7) {
          const std::uint64_t b = rng() % 16;
          std::uint64_t edge = static_cast<std::uint64_t>((static_cast<unsigned __int128>(q) * b + 15) / 16);
          if (rng() % 2 && edge > 0) --edge;
          row[i] = std::min(edge, q - 1);
        }
        // Distinct counts around n - n/8: overwrite a chosen number of coefficients with copies.
        const std::size_t copies = n / 8 - 2 + std::size_t(trial % 5);
        for (std::size_t i = 0; i < copies && i + 1 < n; ++i) row[n - 1 - i] = row[i];
        // Skewed buckets near the slack.
        if (trial % 3 == 0)
          for (std::size_t i = 0; i < n / 10; ++i) row[(i * 13) % n] = rng() % std::max<std::uint64_t>(1, q / 16);
        const bool want = reference_passes(row.data(), n, q);
        EXPECT_EQ(check_full_width_row(row.data(), n, q).empty(), want) << "q " << q << " n " << n << " trial " << trial;
        (want ? passed : failed)++;
      }
    }
  EXPECT_GT(passed, 100);  // both answers are exercised
  EXPECT_GT(failed, 100);
}

TEST(RowCheck, CoefficientAtOrAboveQFails) {
  std::mt19937_64 rng(14);
  const std::uint64_t q = 1073479681ull;
  auto row = uniform_row(4096, q, rng);
  row[100] = q;
  EXPECT_NE(check_full_width_row(row.data(), row.size(), q), "");
  row[100] = ~std::uint64_t(0);
  EXPECT_NE(check_full_width_row(row.data(), row.size(), q), "");
}

}  // namespace
}  // namespace leukocrypt::service
