// Helpers shared by the encrypted-exactness tests (stream_test, lazy_mac_test): real cells as the
// backends take them, tiny INSECURE parameters for a plan and the exact comparison of 128-bit logits.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "nn/int128.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "real_cells.h"

namespace leukocrypt::nn::testing {

// The first n real C-NMC cells at size x size, owned, with the pointers the backends take.
struct Images {
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<const std::uint8_t*> ptrs;
  Images(int n, int size) {
    for (const auto& c : load_real_cells(n, size)) bytes.emplace_back(c.pixels.begin(), c.pixels.end());
    for (const auto& b : bytes) ptrs.push_back(b.data());
  }
};

// Tiny INSECURE parameters (N = 256, 50-bit ciphertext primes as in the chosen 128-bit sets) with
// the relinearisation placement asked for.
inline BfvSettings insecure_settings(const Plan& plan, int bits, bool defer) {
  ParamsRequest req;
  req.bits_needed = bits;
  req.n = 256;
  req.q_bits = {50, 50, 50, 50, 50, 50, 50, 50};
  req.insecure_for_tests = true;
  auto s = choose_params(plan, req).settings;
  s.defer_relin = defer;
  s.mod_switch_levels = choose_mod_switch_levels(plan, s.params(), 10.0, defer);
  return s;
}

inline void expect_exact(const std::vector<Int128>& got, const std::vector<Int128>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_TRUE(got[i] == want[i]) << "logit " << i << ": " << to_string128(got[i]) << " vs " << to_string128(want[i]);
}

}  // namespace leukocrypt::nn::testing
