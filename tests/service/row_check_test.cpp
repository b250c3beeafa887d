// The full-width check of ciphertext rows: uniform rows (what a fresh encryption gives) always
// pass; zero, constant, small-valued, narrow-range and few-valued rows fail.
#include "service/row_check.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace leukocrypt::service
