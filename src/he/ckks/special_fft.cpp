// Special FFT (see special_fft.h). Both directions are radix-2 butterflies over the rotation
// group: at stage `len` the twiddle of position j is zeta^((5^j mod 4 len) * 2N / (4 len))
// (4 len is a power of two: the reduction is a mask), precomputed per stage in a contiguous table.
#include "he/ckks/special_fft.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "common/error.h"

namespace leukocrypt::ckks {
namespace {
// Plain complex product: std::complex's operator* checks for NaN/infinity through __muldc3.
inline std::complex<double> cmul(std::complex<double> a, std::complex<double> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}
}  // namespace

SpecialFft::SpecialFft(std::size_t n) : n_(n), slots_(n / 2), m_(2 * n) {
  require(n >= 8 && (n & (n - 1)) == 0, "SpecialFft: N must be a power of two >= 8, got " + std::to_string(n));
  rot_group_.resize(slots_);
  std::uint64_t g = 1;
  for (std::size_t j = 0; j < slots_; ++j, g = g * 5 % m_) rot_group_[j] = g;
  roots_.resize(m_ + 1);
  // Angles in long double so that every root is correctly rounded to double.
  for (std::size_t k = 0; k <= m_; ++k) {
    const long double a = 2.0L * std::numbers::pi_v<long double> * static_cast<long double>(k) /
                          static_cast<long double>(m_);
    roots_[k] = {static_cast<double>(std::cos(a)), static_cast<double>(std::sin(a))};
  }
  fwd_tw_.resize(slots_);
  inv_tw_.resize(slots_);
  for (std::size_t len = 2; len <= slots_; len <<= 1) {
    const std::size_t half = len >> 1, quad = len << 2, mask = quad - 1, gap = m_ / quad;
    for (std::size_t j = 0; j < half; ++j) {
      fwd_tw_[half - 1 + j] = roots_[(rot_group_[j] & mask) * gap];
      inv_tw_[half - 1 + j] = roots_[(quad - (rot_group_[j] & mask)) * gap];
    }
  }
}

void SpecialFft::bit_reverse(std::complex<double>* v) const {
  for (std::size_t i = 1, j = 0; i < slots_; ++i) {
    std::size_t bit = slots_ >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(v[i], v[j]);
  }
}

void SpecialFft::forward(std::complex<double>* v) const {
  bit_reverse(v);
  for (std::size_t len = 2; len <= slots_; len <<= 1) {
    const std::size_t half = len >> 1;
    const std::complex<double>* tw = fwd_tw_.data() + half - 1;
    for (std::size_t i = 0; i < slots_; i += len)
      for (std::size_t j = 0; j < half; ++j) {
        const std::complex<double> u = v[i + j];
        const std::complex<double> w = cmul(v[i + j + half], tw[j]);
        v[i + j] = u + w;
        v[i + j + half] = u - w;
      }
  }
}

void SpecialFft::inverse(std::complex<double>* v) const {
  for (std::size_t len = slots_; len >= 2; len >>= 1) {
    const std::size_t half = len >> 1;
    const std::complex<double>* tw = inv_tw_.data() + half - 1;
    for (std::size_t i = 0; i < slots_; i += len)
      for (std::size_t j = 0; j < half; ++j) {
        const std::complex<double> u = v[i + j] + v[i + j + half];
        const std::complex<double> w = cmul(v[i + j] - v[i + j + half], tw[j]);
        v[i + j] = u;
        v[i + j + half] = w;
      }
  }
  bit_reverse(v);
  const double inv = 1.0 / static_cast<double>(slots_);
  for (std::size_t i = 0; i < slots_; ++i) v[i] *= inv;
}

}  // namespace leukocrypt::ckks
