// CKKS Context: the ring (rlwe::RingContext: NTT tables, key-switching constants) plus the
// special FFT tables of the encoder and per-level constants for rescaling and for decoding
// (multi-precision CRT). Immutable; shared through std::shared_ptr<const Context>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "he/ckks/params.h"
#include "he/ckks/special_fft.h"
#include "he/ring/big_uint.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::ckks {

using he::Modulus;
using he::NttTables;
using he::ShoupOperand;

// Constants for ciphertexts at level l (primes q_0..q_{l-1} present). Internal to the engine.
struct LevelData {
  std::size_t level = 0;
  double log2_q = 0;
  // Rescale to l-1, j < l-1: q_{l-1}^-1 mod q_j and -h mod q_j, h = (q_{l-1} - 1)/2.
  std::vector<ShoupOperand> inv_last;
  std::vector<std::uint64_t> neg_half_last;
  // Decoding (CRT): (Q/q_i)^-1 mod q_i, Q/q_i and Q as little-endian 64-bit limbs, floor(Q/2).
  std::vector<ShoupOperand> q_hat_inv;
  std::vector<he::BigUint> q_hat;
  he::BigUint q_product, q_half;
  // Fast exact decoding of coefficients below 2^126: x = sum_i y_i Q/q_i - v Q with
  // v = round(sum_i y_i / q_i), computed modulo 2^128 (Q/q_i and Q mod 2^128), certified by the
  // double estimate x/Q = sum_i y_i/q_i - v (valid while |that| < fast_limit).
  std::vector<he::u128> q_hat_low;
  he::u128 q_low = 0;
  std::vector<double> inv_q;
  double fast_limit = 0;
};

class Context : public rlwe::RingContext {
 public:
  static std::shared_ptr<const Context> create(const Params& params);
  explicit Context(const Params& params);  // prefer create()

  const Params& params() const { return params_; }
  std::size_t slots() const { return params_.slots(); }
  const SpecialFft& fft() const { return fft_; }
  // level in [1, L].
  const LevelData& level(std::size_t level) const { return levels_[level - 1]; }

 private:
  Params params_;
  SpecialFft fft_;
  std::vector<LevelData> levels_;
};

using ContextPtr = std::shared_ptr<const Context>;

}  // namespace leukocrypt::ckks
