// A CKKS ciphertext: an RLWE ciphertext (rlwe/ciphertext.h) kept in the NTT domain, plus the
// exact scale of its message (a double: the product of the operands' scales divided by every
// prime rescaled away, never rounded to a power of two). Every evaluator op checks params id,
// level, size and -- for additions -- the scale. Privately derived, so a CKKS ciphertext can
// never be passed to a BFV op by accident.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/rlwe/ciphertext.h"

namespace leukocrypt::ckks {

class Ciphertext : private rlwe::Ciphertext {
 public:
  Ciphertext() = default;
  Ciphertext(std::uint64_t params_id, std::size_t n, std::size_t level, std::size_t size, double scale)
      : rlwe::Ciphertext(params_id, n, level, size), scale_(scale) {}
  // Unspecified contents (rlwe::Ciphertext::Uninitialized): every coefficient is written by the caller.
  using rlwe::Ciphertext::Uninitialized;
  Ciphertext(std::uint64_t params_id, std::size_t n, std::size_t level, std::size_t size, double scale, Uninitialized)
      : rlwe::Ciphertext(params_id, n, level, size, Uninitialized{}), scale_(scale) {}

  using rlwe::Ciphertext::data;
  using rlwe::Ciphertext::empty;
  using rlwe::Ciphertext::level;
  using rlwe::Ciphertext::n;
  using rlwe::Ciphertext::params_id;
  using rlwe::Ciphertext::poly;
  using rlwe::Ciphertext::raw;
  using rlwe::Ciphertext::raw_size;
  using rlwe::Ciphertext::shrink_level;
  using rlwe::Ciphertext::size;
  using rlwe::Ciphertext::truncate_size;

  double scale() const { return scale_; }
  void set_scale(double scale) { scale_ = scale; }

 private:
  double scale_ = 0;
};

}  // namespace leukocrypt::ckks
