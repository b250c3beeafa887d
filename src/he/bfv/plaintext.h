// A BFV plaintext: a polynomial in R_t = Z_t[X]/(X^N + 1), coefficients in [0, t). The batch
// encoder fills it from N slot values; it carries the params id it was made for.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/aligned_buffer.h"

namespace leukocrypt::bfv {

class Plaintext {
 public:
  Plaintext() = default;
  Plaintext(std::uint64_t params_id, std::size_t n) : params_id_(params_id), coeffs_(n) {}
  Plaintext(const Plaintext& o) : params_id_(o.params_id_), coeffs_(o.coeffs_.clone()) {}
  Plaintext& operator=(const Plaintext& o) { return *this = Plaintext(o); }
  Plaintext(Plaintext&&) noexcept = default;
  Plaintext& operator=(Plaintext&&) noexcept = default;

  std::uint64_t params_id() const { return params_id_; }
  std::size_t n() const { return coeffs_.size(); }
  std::uint64_t* data() { return coeffs_.data(); }
  const std::uint64_t* data() const { return coeffs_.data(); }
  std::uint64_t& operator[](std::size_t i) { return coeffs_[i]; }
  std::uint64_t operator[](std::size_t i) const { return coeffs_[i]; }

 private:
  std::uint64_t params_id_ = 0;
  AlignedBuffer<std::uint64_t> coeffs_;
};

}  // namespace leukocrypt::bfv
