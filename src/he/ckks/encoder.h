// CKKS encoding: N/2 complex (or real) slot values <-> the plaintext round(scale * m), where m is
// the real polynomial whose canonical embedding at the slot roots zeta^(5^j) is the values
// (special_fft.h). Encoding: inverse special FFT, scale, round, reduce mod every prime, NTT.
// Decoding: inverse NTT, CRT to the centred integer (multi-precision), divide by the scale,
// forward special FFT. Thread-safe (const).
#pragma once

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

#include "he/ckks/context.h"
#include "he/ckks/plaintext.h"

namespace leukocrypt::ckks {

class Encoder {
 public:
  explicit Encoder(ContextPtr ctx);
  const ContextPtr& context() const { return ctx_; }
  std::size_t slot_count() const { return ctx_->slots(); }

  // values.size() <= N/2 (missing slots are 0), every value finite. scale 0 = the default scale;
  // level 0 = the top level L. Throws InvalidArgument when scale * |coefficient| does not fit
  // below half the modulus of that level.
  Plaintext encode(std::span<const double> values, double scale = 0, std::size_t level = 0) const;
  Plaintext encode_complex(std::span<const std::complex<double>> values, double scale = 0,
                           std::size_t level = 0) const;
  // Every slot = value (a constant polynomial: one coefficient).
  Plaintext encode_constant(double value, double scale = 0, std::size_t level = 0) const;

  std::vector<std::complex<double>> decode_complex(const Plaintext& pt) const;
  // Real parts.
  std::vector<double> decode(const Plaintext& pt) const;

 private:
  // v (N/2 values after the inverse FFT) holds the coefficients m_k = Re v_k, m_{k+N/2} = Im v_k:
  // round(scale * m) -> residues in NTT form.
  Plaintext from_coefficients(const std::complex<double>* v, double scale, std::size_t level) const;
  // Checks, pads to N/2 slots, inverse FFT, from_coefficients (T: double or complex).
  template <class T>
  Plaintext encode_values(std::span<const T> values, double scale, std::size_t level) const;
  void check_scale_level(double& scale, std::size_t& level) const;
  ContextPtr ctx_;
};

}  // namespace leukocrypt::ckks
