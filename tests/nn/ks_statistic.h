// Two-sample Kolmogorov-Smirnov statistic, for the circuit-privacy tests (BFV and CKKS): the
// largest distance between the two empirical CDFs.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace leukocrypt::nn::testing {

// Critical D for alpha = 0.001 and n = m = 4096 samples: 1.949 * sqrt(2 / 4096).
inline constexpr double kKsCritical4096 = 0.0431;

inline double ks_statistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double d = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::fabs(double(i) / a.size() - double(j) / b.size()));
  }
  return d;
}

}  // namespace leukocrypt::nn::testing
