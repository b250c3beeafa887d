// A precision model for CKKS: high-probability bounds on the error of every op, tracked through a
// computation alongside the ciphertexts, as noise_model.h does for BFV. Errors are measured in the
// canonical embedding (the largest |error| over the slots, times the scale): ||a*b|| <= ||a||*||b||
// there, and a polynomial with N independent coefficients of variance v has every slot value of
// variance N*v, so ||a|| <= c*sqrt(N*v) except with probability about exp(-c^2) per slot
// (c = 6 by default: ~2e-16). Sources (Cheon-Kim-Kim-Song 2017, Lemma 1-3, with our distributions:
// ternary secret and mask, variance 2/3; CBD(21) errors, variance 10.5; rounding, variance 1/12):
//   encoding      rounding of scale * m:                          R = H(1/12)
//   encryption    public key: e*u + e0 + e1*s: 2 H(10.5) H(2/3) + H(10.5); secret key: H(10.5)
//   multiply      s1 M1 B2 + s2 M2 B1 + B1 B2 (M: largest |slot value|, s: scale, B: noise)
//   key switching sum_i ||d_i|| H(10.5) / p + R (1 + H(2/3)), ||d_i|| <= N q_i (digits in [0, q_i))
//   rescale       B / q_last + R (1 + H(2/3))
//   sanitise      + a public-key encryption of zero (as encryption) + H(2^(2b)/3): circuit privacy's
//                 re-randomisation and its flood, uniform in [-2^b, 2^b) per coefficient
// Every estimate also bounds the part of its noise that is fixed: a deterministic function of the
// values the inputs decrypt to and of the plaintext constants (encoding and constant rounding,
// the inputs' own encryption noise, and what products and rescales make of them). The rest --
// rescale and key-switch rounding, key-switching noise, the re-randomisation -- is what a circuit-
// privacy flood must cover (nn/ckks_circuit_privacy.h). Both parts are tracked on their own (the
// random part can be 2^60 below the fixed one, beyond a double's difference).
// The bound is conservative (products of per-slot maxima), typically 10-100x above the measured
// error; tests check that the measured error never exceeds it.
#pragma once

#include <cstddef>

#include "he/ckks/params.h"

namespace leukocrypt::ckks {

// What the model knows about one ciphertext: its level and scale, a bound on the magnitude of its
// slot values, and a bound on its noise in the canonical embedding (integer units, i.e. before
// dividing by the scale).
struct PrecisionEstimate {
  std::size_t level = 0;
  double scale = 0;
  double magnitude = 0;
  double fixed = 0;   // bound on the fixed part of the noise (see above)
  double random = 0;  // bound on the rest
  double noise() const { return fixed + random; }
  // Bound on the largest slot error after decoding: noise / scale plus the floating-point error of
  // the decoding FFT.
  double slot_error(std::size_t n) const;
};

class PrecisionModel {
 public:
  explicit PrecisionModel(const Params& params, double confidence = 6.0);

  // Fresh encryptions of values with |slot| <= magnitude at `scale` and level (0: top).
  PrecisionEstimate fresh_public(double magnitude, double scale, std::size_t level = 0) const;
  PrecisionEstimate fresh_secret(double magnitude, double scale, std::size_t level = 0) const;

  PrecisionEstimate add(const PrecisionEstimate& a, const PrecisionEstimate& b) const;
  // Adding a plaintext encoded at a's scale with |slot| <= magnitude.
  PrecisionEstimate add_plain(const PrecisionEstimate& a, double magnitude) const;
  PrecisionEstimate multiply(const PrecisionEstimate& a, const PrecisionEstimate& b) const;
  // A plaintext with |slot| <= magnitude encoded at `scale`.
  PrecisionEstimate multiply_plain(const PrecisionEstimate& a, double magnitude, double scale) const;
  // Evaluator::multiply_scalar(value, scalar_scale) (scalar_scale 0: the last prime of a's level).
  PrecisionEstimate multiply_scalar(const PrecisionEstimate& a, double value, double scalar_scale = 0) const;
  // relinearize, rotate, conjugate: one key switch.
  PrecisionEstimate key_switch(const PrecisionEstimate& a) const;
  PrecisionEstimate rescale(const PrecisionEstimate& a) const;
  // Re-randomisation (+ Enc_pk(0)) and a flood of three uniforms in [-2^flood_bits, 2^flood_bits)
  // per coefficient (variance 2^(2 flood_bits); nn/ckks_circuit_privacy.h).
  PrecisionEstimate sanitise(const PrecisionEstimate& a, int flood_bits) const;

  // The per-op terms (integer units, canonical embedding).
  double rounding() const { return rounding_; }
  double key_switch_noise(std::size_t level) const;

 private:
  double h(double variance) const;  // c * sqrt(N * variance)
  PrecisionEstimate fresh(double magnitude, double scale, std::size_t level, double noise) const;
  Params params_;
  double c_;
  double rounding_;
};

}  // namespace leukocrypt::ckks
