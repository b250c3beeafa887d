// Statistical full-width check of ciphertext rows (see row_check.h). Both tests are exact (the same
// answers as a 128-bit division per coefficient and a sort), in O(N): they run on every row of a
// request of up to 4.4 GB, and the sort alone was half of its validation time.
#include "service/row_check.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace leukocrypt::service {
namespace {

using u128 = unsigned __int128;
constexpr int kBuckets = 16;

// A random odd multiplier per process: the hash of the distinct-value count is multiply-shift
// with a key the sender does not know, so no request can be crafted to make it probe long chains.
std::uint64_t hash_key() {
  static const std::uint64_t key = [] {
    std::random_device rd;
    return ((std::uint64_t(rd()) << 32) ^ rd()) | 1;
  }();
  return key;
}

// Distinct values among row[0..n), stopping once more than max_repeats values repeat (the answer
// is then below the threshold anyway). Linear probing in a table of >= 4n entries; every value < q
// < 2^64 - 1, so all-ones marks an empty entry.
std::size_t count_distinct(const std::uint64_t* row, std::size_t n, std::size_t max_repeats) {
  int log_size = 2;
  while ((std::size_t(1) << log_size) < 4 * n) ++log_size;
  const std::size_t size = std::size_t(1) << log_size, mask = size - 1;
  thread_local std::vector<std::uint64_t> table;
  table.assign(size, ~std::uint64_t(0));
  const std::uint64_t key = hash_key();
  std::size_t repeats = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t x = row[i];
    std::size_t h = std::size_t((x * key) >> (64 - log_size));
    while (table[h] != ~std::uint64_t(0) && table[h] != x) h = (h + 1) & mask;
    if (table[h] == x) {
      if (++repeats > max_repeats) break;
    } else {
      table[h] = x;
    }
  }
  return n - repeats;
}

}  // namespace

std::string check_full_width_row(const std::uint64_t* row, std::size_t n, std::uint64_t q) {
  if (n < 16) return {};  // too small to judge
  // 1. Bucket of x = floor(16 x / q) without a division: approx = floor(x * m / 2^64) with
  //    m = floor(2^68 / q) is the bucket or one below it (x * m / 2^64 > 16 x / q - x / 2^64), and
  //    one comparison with the bucket's upper bound ceil((b + 1) q / 16) settles it.
  std::array<std::uint64_t, kBuckets + 1> bound{};
  for (int b = 0; b <= kBuckets; ++b) bound[b] = static_cast<std::uint64_t>((u128(q) * b + kBuckets - 1) / kBuckets);
  const bool fast = q > kBuckets;  // m < 2^64
  const std::uint64_t m = fast ? static_cast<std::uint64_t>((u128(1) << 68) / q) : 0;
  std::array<std::size_t, kBuckets> count{};
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t x = row[i];
    if (x >= q) return "coefficient " + std::to_string(x) + " >= q = " + std::to_string(q);
    std::size_t b = fast ? static_cast<std::size_t>((u128(x) * m) >> 64) : static_cast<std::size_t>(u128(x) * kBuckets / q);
    b += x >= bound[b + 1];
    count[b]++;
  }
  const double mean = double(n) / kBuckets;
  const double slack = 10.0 * std::sqrt(mean * (1.0 - 1.0 / kBuckets)) + 8.0;
  for (int b = 0; b < kBuckets; ++b)
    if (std::abs(double(count[b]) - mean) > slack)
      return std::to_string(count[b]) + " of " + std::to_string(n) + " coefficients in [" + std::to_string(b) +
             "q/16, " + std::to_string(b + 1) + "q/16) (a fresh ciphertext has about " +
             std::to_string(static_cast<std::size_t>(mean)) + ")";
  // 2. Entropy: at least n - n/8 distinct values.
  if (q / 64 < n) return {};
  const std::size_t distinct = count_distinct(row, n, n / 8);
  if (distinct < n - n / 8)
    return "at most " + std::to_string(distinct) + " distinct values among " + std::to_string(n) + " coefficients";
  return {};
}

}  // namespace leukocrypt::service
