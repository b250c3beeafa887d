// The canonical embedding of CKKS as a "special FFT" (Cheon, Han, Kim, Kim, Song, "Bootstrapping
// for Approximate Homomorphic Encryption", EUROCRYPT 2018, Sec. 3 / HEAAN's fftSpecial): for a
// complex vector v of length s = N/2, forward computes z_j = sum_{k<s} v_k * zeta^(5^j * k),
// zeta = exp(2*pi*i / 2N), j < s; inverse undoes it exactly (up to rounding). With
// v_k = m_k + i*m_{k+N/2} this is the evaluation of the real polynomial m(X) at the slot roots
// zeta^(5^j) (zeta^(5^j * N/2) = i because 5^j = 1 mod 4), so slot j rotates to slot j - r under
// X -> X^(5^r) and is conjugated under X -> X^(2N-1). O(s log s) complex butterflies.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace leukocrypt::ckks {

class SpecialFft {
 public:
  // n: ring degree (a power of two >= 8); transforms have length n / 2.
  explicit SpecialFft(std::size_t n);
  std::size_t size() const { return slots_; }
  // In place, length size().
  void forward(std::complex<double>* v) const;
  void inverse(std::complex<double>* v) const;
  // 5^j mod 2N: the exponent of slot j's root.
  std::uint64_t slot_exponent(std::size_t j) const { return rot_group_[j]; }
  // zeta^k, k in [0, 2N].
  std::complex<double> root(std::size_t k) const { return roots_[k]; }

 private:
  void bit_reverse(std::complex<double>* v) const;
  std::size_t n_, slots_, m_;
  std::vector<std::uint64_t> rot_group_;
  std::vector<std::complex<double>> roots_;
  // Twiddles per stage, contiguous: stage with half-length h uses entries [h - 1, 2h - 1).
  std::vector<std::complex<double>> fwd_tw_, inv_tw_;
};

}  // namespace leukocrypt::ckks
