// CKKS precision model (see precision_model.h).
#include "he/ckks/precision_model.h"

#include <cmath>

#include "common/error.h"

namespace leukocrypt::ckks {
namespace {
constexpr double kTernaryVariance = 2.0 / 3.0;
constexpr double kErrorVariance = 10.5;  // CBD(21)
constexpr double kRoundingVariance = 1.0 / 12.0;
}  // namespace

double PrecisionEstimate::slot_error(std::size_t n) const {
  // Decoding: the noise divided by the scale, plus the FFT's rounding (log2(N/2) stages of
  // double-precision butterflies on values up to the magnitude) and the conversion to double.
  const double fft = (magnitude + 1) * std::log2(static_cast<double>(n)) * 0x1p-50;
  return noise() / scale + fft;
}

PrecisionModel::PrecisionModel(const Params& params, double confidence) : params_(params), c_(confidence) {
  require(confidence > 0, "PrecisionModel: confidence must be positive");
  // The rounding of a rescale / key switch: r0 + r1 * s with r_i uniform in [-1/2, 1/2].
  rounding_ = h(kRoundingVariance) * (1 + h(kTernaryVariance));
}

double PrecisionModel::h(double variance) const {
  return c_ * std::sqrt(static_cast<double>(params_.n()) * variance);
}

PrecisionEstimate PrecisionModel::fresh(double magnitude, double scale, std::size_t level, double noise) const {
  if (level == 0) level = params_.max_level();
  require(level >= 1 && level <= params_.max_level(), "PrecisionModel: level out of range");
  // Encoding rounding plus the encryption noise.
  return {level, scale, magnitude, h(kRoundingVariance) + noise, 0.0};
}

PrecisionEstimate PrecisionModel::fresh_public(double magnitude, double scale, std::size_t level) const {
  const double e = h(kErrorVariance), t = h(kTernaryVariance);
  return fresh(magnitude, scale, level, 2 * e * t + e);
}

PrecisionEstimate PrecisionModel::fresh_secret(double magnitude, double scale, std::size_t level) const {
  return fresh(magnitude, scale, level, h(kErrorVariance));
}

PrecisionEstimate PrecisionModel::add(const PrecisionEstimate& a, const PrecisionEstimate& b) const {
  return {a.level, a.scale, a.magnitude + b.magnitude, a.fixed + b.fixed, a.random + b.random};
}

PrecisionEstimate PrecisionModel::add_plain(const PrecisionEstimate& a, double magnitude) const {
  return {a.level, a.scale, a.magnitude + magnitude, a.fixed + h(kRoundingVariance), a.random};
}

PrecisionEstimate PrecisionModel::multiply(const PrecisionEstimate& a, const PrecisionEstimate& b) const {
  const double fixed = a.scale * a.magnitude * b.fixed + b.scale * b.magnitude * a.fixed + a.fixed * b.fixed;
  // (F_a + R_a)(F_b + R_b) - F_a F_b, and the true values times the random parts.
  const double random = a.scale * a.magnitude * b.random + b.scale * b.magnitude * a.random + a.fixed * b.random +
                        a.random * b.fixed + a.random * b.random;
  return {a.level, a.scale * b.scale, a.magnitude * b.magnitude, fixed, random};
}

PrecisionEstimate PrecisionModel::multiply_plain(const PrecisionEstimate& a, double magnitude, double scale) const {
  PrecisionEstimate pt{a.level, scale, magnitude, h(kRoundingVariance), 0.0};
  return multiply(a, pt);
}

PrecisionEstimate PrecisionModel::multiply_scalar(const PrecisionEstimate& a, double value, double scalar_scale) const {
  if (scalar_scale == 0) scalar_scale = static_cast<double>(params_.q()[a.level - 1]);
  // The constant round(value * scalar_scale) is off by at most 1/2: a constant polynomial, whose
  // canonical embedding is its value at every slot.
  PrecisionEstimate k{a.level, scalar_scale, std::fabs(value), 0.5, 0.0};
  return multiply(a, k);
}

double PrecisionModel::key_switch_noise(std::size_t level) const {
  const double n = static_cast<double>(params_.n());
  double digits = 0;
  for (std::size_t i = 0; i < level; ++i) digits += n * static_cast<double>(params_.q()[i]);
  return digits * h(kErrorVariance) / static_cast<double>(params_.special_prime()) + rounding_;
}

PrecisionEstimate PrecisionModel::key_switch(const PrecisionEstimate& a) const {
  const double ks = key_switch_noise(a.level);
  return {a.level, a.scale, a.magnitude, a.fixed, a.random + ks};
}

PrecisionEstimate PrecisionModel::rescale(const PrecisionEstimate& a) const {
  require(a.level >= 2, "PrecisionModel: rescale at level 1");
  const double q = static_cast<double>(params_.q()[a.level - 1]);
  return {a.level - 1, a.scale / q, a.magnitude, a.fixed / q, a.random / q + rounding_};
}

PrecisionEstimate PrecisionModel::sanitise(const PrecisionEstimate& a, int flood_bits) const {
  require(flood_bits >= 0 && flood_bits <= 125, "PrecisionModel: flood bits out of range");
  const double e = h(kErrorVariance), t = h(kTernaryVariance);
  const double flood = h(std::ldexp(1.0, 2 * flood_bits));  // three uniforms of variance 2^(2b) / 3
  return {a.level, a.scale, a.magnitude, a.fixed, a.random + 2 * e * t + e + flood};
}

}  // namespace leukocrypt::ckks
