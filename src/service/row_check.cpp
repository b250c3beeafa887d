// Statistical full-width check of ciphertext rows (see row_check.h).
#include "service/row_check.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace leukocrypt::service {

std::string check_full_width_row(const std::uint64_t* row, std::size_t n, std::uint64_t q) {
  if (n < 16) return {};  // too small to judge
  constexpr int kBuckets = 16;
  std::array<std::size_t, kBuckets> count{};
  for (std::size_t i = 0; i < n; ++i)
    count[static_cast<std::size_t>((static_cast<unsigned __int128>(row[i]) * kBuckets) / q)]++;
  const double mean = double(n) / kBuckets;
  const double slack = 10.0 * std::sqrt(mean * (1.0 - 1.0 / kBuckets)) + 8.0;
  for (int b = 0; b < kBuckets; ++b)
    if (std::abs(double(count[b]) - mean) > slack)
      return std::to_string(count[b]) + " of " + std::to_string(n) + " coefficients in [" + std::to_string(b) +
             "q/16, " + std::to_string(b + 1) + "q/16) (a fresh ciphertext has about " +
             std::to_string(static_cast<std::size_t>(mean)) + ")";
  if (q / 64 < n) return {};
  std::vector<std::uint64_t> sorted(row, row + n);
  std::sort(sorted.begin(), sorted.end());
  const auto distinct = static_cast<std::size_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
  if (distinct < n - n / 8)
    return "only " + std::to_string(distinct) + " distinct values among " + std::to_string(n) + " coefficients";
  return {};
}

}  // namespace leukocrypt::service
