// Exact RNS base conversion (Halevi-Polyakov-Shoup 2018, Sec. 2.2 "fast base extension" with the
// floating-point correction of Sec. 2.3, done here in 64-bit fixed point): given x in base
// F = f_0...f_{k-1}, returns the centred representative of x (in (-F/2, F/2]) modulo each prime
// of the target base T.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/math/modulus.h"

namespace leukocrypt::he {

class BaseConverter {
 public:
  BaseConverter() = default;
  // from and to must be pairwise coprime primes.
  BaseConverter(std::vector<Modulus> from, std::vector<Modulus> to);

  std::size_t from_size() const { return from_.size(); }
  std::size_t to_size() const { return to_.size(); }
  const std::vector<Modulus>& from() const { return from_; }
  const std::vector<Modulus>& to() const { return to_; }

  // in: from_size() rows of n values (row i in [0, f_i)); out: to_size() rows of n values.
  // Row stride is n for both. out must not alias in.
  void convert(const std::uint64_t* in, std::uint64_t* out, std::size_t n) const;

 private:
  void convert_rows(const std::uint64_t* in, std::uint64_t* out, std::size_t n) const;
  std::vector<Modulus> from_, to_;
  std::vector<ShoupOperand> inv_hat_;        // [(F/f_i)^-1]_{f_i}
  std::vector<std::uint64_t> frac_;          // floor(2^64 / f_i): fixed-point 1/f_i
  std::vector<std::uint64_t> hat_mod_to_;    // [j * k + i] = (F/f_i) mod t_j
  std::vector<std::uint64_t> f_mod_to_;      // F mod t_j
  std::vector<ShoupOperand> hat_shoup_;      // Shoup form of hat_mod_to_
  bool lazy64_ = false;                      // 64-bit lazy sums fit: 3k * max t_j < 2^64
  bool kernels_ = false;                     // every f_i < 4 t_j: use the SIMD fma kernels
  std::vector<ShoupOperand> neg_f_shoup_;    // -F mod t_j
  bool dot_ = false;                         // kernels_ and every f_i < 2^52: fused dot kernel
  std::vector<ShoupOperand> dot_w_;          // [j * (k + 1) + i] = hat_shoup_, then -F mod t_j
};

}  // namespace leukocrypt::he
