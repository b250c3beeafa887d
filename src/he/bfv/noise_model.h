// Analytic worst-case noise bounds for BFV, in bits of the invariant noise v (Fan-Vercauteren /
// HPS definition: t/Q * [c(s)]_Q = m + v mod t; decryption is correct while ||v|| < 1/2). Every
// bound is an upper bound on the infinity norm over all randomness (ternary s and u, |e| <= 21),
// so a measured budget is never below noise_budget_bits(estimate). Used by the planner to choose
// parameters.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/bfv/params.h"

namespace leukocrypt::bfv {

class NoiseModel {
 public:
  explicit NoiseModel(const Params& params) : params_(params) {}

  // log2 ||v|| of a fresh public-key encryption at the top level.
  double fresh_public(std::size_t level = 0) const;
  // Fresh secret-key encryption.
  double fresh_symmetric(std::size_t level = 0) const;
  // a + b.
  double add(double a, double b) const;
  // Sum of scalar products sum_k w_k * ct_k whose inputs have noise <= v: ||v|| * sum |w_k|.
  double scalar_sum(double v, double sum_abs_w) const;
  // Adding a plaintext / scalar: rounding of round(Q*m/t).
  double add_plain(double v, std::size_t level = 0) const;
  // multiply_plain by a plaintext with centred coefficients bounded by max_abs (default t/2).
  double multiply_plain(double v, double max_abs = 0) const;
  // Ciphertext product (or square with a == b) at `level`, before relinearisation.
  double multiply(double a, double b, std::size_t level = 0) const;
  // Relinearisation or Galois key switching at `level`.
  double key_switch(double v, std::size_t level = 0) const;
  // Modulus switch from `level` to level - 1.
  double mod_switch(double v, std::size_t level) const;

  // Budget in bits for a noise estimate (may be negative: not decryptable): -log2(2*||v||), less
  // one bit for the integer rounding of the measured budget (Decryptor reports
  // bitcount(Q) - bitcount(Q*||v||) - 1 > -log2||v|| - 2), so measured >= this, always.
  static double noise_budget_bits(double noise_bits) { return -2.0 - noise_bits; }

 private:
  std::size_t lvl(std::size_t level) const { return level == 0 ? params_.max_level() : level; }
  Params params_;
};

}  // namespace leukocrypt::bfv
