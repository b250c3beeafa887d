// An RLWE ciphertext: `size` polynomials (2 after encryption, 3 after multiply before
// relinearisation) over the first `level` ciphertext primes, stored prime-major: poly k, prime i
// is data(k, i)[0..N). BFV keeps them in coefficient form (bfv::Ciphertext is this type); CKKS in
// the NTT domain and adds the scale (ckks::Ciphertext wraps it). It carries the params id and
// level, checked by every evaluator op. Movable value; copy with clone semantics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/aligned_buffer.h"

namespace leukocrypt::rlwe {

class Ciphertext {
 public:
  Ciphertext() = default;
  Ciphertext(std::uint64_t params_id, std::size_t n, std::size_t level, std::size_t size)
      : params_id_(params_id), n_(n), level_(level), size_(size), data_(size * level * n) {}
  // The same shape with unspecified contents: for results whose every coefficient the caller writes.
  using Uninitialized = AlignedBuffer<std::uint64_t>::Uninitialized;
  Ciphertext(std::uint64_t params_id, std::size_t n, std::size_t level, std::size_t size, Uninitialized)
      : params_id_(params_id), n_(n), level_(level), size_(size), data_(size * level * n, Uninitialized{}) {}
  // Copies only the live polynomials (a relinearised or switched-down ciphertext keeps its larger
  // buffer; its copies do not).
  Ciphertext(const Ciphertext& o)
      : params_id_(o.params_id_), n_(o.n_), level_(o.level_), size_(o.size_), data_(o.raw_size(), Uninitialized{}) {
    if (o.raw_size()) std::memcpy(data_.data(), o.data_.data(), o.raw_size() * sizeof(std::uint64_t));
  }
  Ciphertext& operator=(const Ciphertext& o) {
    if (this != &o) {
      Ciphertext tmp(o);
      *this = std::move(tmp);
    }
    return *this;
  }
  Ciphertext(Ciphertext&&) noexcept = default;
  Ciphertext& operator=(Ciphertext&&) noexcept = default;

  std::uint64_t params_id() const { return params_id_; }
  std::size_t n() const { return n_; }
  // Number of ciphertext primes present (L when fresh; drops with modulus switching).
  std::size_t level() const { return level_; }
  // Number of polynomials (2 or 3).
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  std::uint64_t* poly(std::size_t k) { return data_.data() + k * level_ * n_; }
  const std::uint64_t* poly(std::size_t k) const { return data_.data() + k * level_ * n_; }
  std::uint64_t* data(std::size_t k, std::size_t i) { return poly(k) + i * n_; }
  const std::uint64_t* data(std::size_t k, std::size_t i) const { return poly(k) + i * n_; }
  std::uint64_t* raw() { return data_.data(); }
  const std::uint64_t* raw() const { return data_.data(); }
  std::size_t raw_size() const { return size_ * level_ * n_; }

  // Drops polynomials beyond new_size (keeps the buffer): after relinearisation.
  void truncate_size(std::size_t new_size) { if (new_size < size_) size_ = new_size; }
  // Reinterprets the buffer with fewer primes per polynomial; the caller has already moved
  // the rows to the new layout (poly k, prime i at (k*new_level + i)*N).
  void shrink_level(std::size_t new_level) { if (new_level < level_) level_ = new_level; }

  // Reshapes to (level, size) with zeroed contents (reuses nothing; not for hot loops).
  void reset(std::uint64_t params_id, std::size_t n, std::size_t level, std::size_t size) {
    params_id_ = params_id; n_ = n; level_ = level; size_ = size;
    data_.reset(size * level * n);
  }

 private:
  std::uint64_t params_id_ = 0;
  std::size_t n_ = 0;
  std::size_t level_ = 0;
  std::size_t size_ = 0;
  AlignedBuffer<std::uint64_t> data_;
};

}  // namespace leukocrypt::rlwe
