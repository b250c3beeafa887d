// Cheap statistical check that a ciphertext row (one RNS prime of one polynomial) looks like a
// fresh encryption's: uniform over [0, q). A fresh BFV ciphertext is (c0, c1) with c1 = a expanded
// from a seed (uniform by construction) and c0 = -(a*s) + e + Delta*m, uniform mod q because a is.
// A request of all-zero, constant, small-valued or few-valued rows costs the provider a full batch
// of work while cheap to send: refused before it is queued (422) instead.
// Two tests, O(N) per row (a coefficient >= q fails at once):
//   1. width: 16 equal-width buckets over [0, q); a row fails if any bucket's count is further than
//      10 sd + 8 from the mean of Binomial(N, 1/16). False rejection of a uniform row: below 2^-40
//      for N >= 256 (Bernstein's inequality, both tails, 16 buckets).
//   2. entropy (when q >= 64 N): fewer than 7/8 N distinct values. A uniform row has about
//      N^2 / 2q colliding pairs, at most N/128 here: N/8 is far out of reach. Counted exactly
//      with a hash table keyed per process (no input can be crafted to make it slow).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace leukocrypt::service {

// Empty when the row passes; otherwise why it fails ("all coefficients in [0, q/16)", ...).
std::string check_full_width_row(const std::uint64_t* row, std::size_t n, std::uint64_t q);

}  // namespace leukocrypt::service
