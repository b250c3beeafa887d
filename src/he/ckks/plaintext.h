// A CKKS plaintext: the encoded polynomial round(scale * m) over the first `level` ciphertext
// primes, in the NTT domain (ready for multiply_plain and encryption), with its exact scale.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/aligned_buffer.h"

namespace leukocrypt::ckks {

class Plaintext {
 public:
  Plaintext() = default;
  Plaintext(std::uint64_t params_id, std::size_t n, std::size_t level, double scale)
      : params_id_(params_id), n_(n), level_(level), scale_(scale), data_(n * level) {}

  std::uint64_t params_id() const { return params_id_; }
  std::size_t n() const { return n_; }
  std::size_t level() const { return level_; }
  double scale() const { return scale_; }
  std::uint64_t* data(std::size_t i) { return data_.data() + i * n_; }
  const std::uint64_t* data(std::size_t i) const { return data_.data() + i * n_; }
  std::uint64_t* raw() { return data_.data(); }
  const std::uint64_t* raw() const { return data_.data(); }
  bool empty() const { return level_ == 0; }

 private:
  std::uint64_t params_id_ = 0;
  std::size_t n_ = 0, level_ = 0;
  double scale_ = 0;
  AlignedBuffer<std::uint64_t> data_;
};

}  // namespace leukocrypt::ckks
