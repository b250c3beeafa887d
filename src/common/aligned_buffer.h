// 64-byte aligned, movable, non-copyable buffer of trivially copyable T: a copy of a polynomial (or
// of a secret key) is always deliberate, through clone(). Polynomials and kernel inputs live here
// so AVX-512 loads are aligned.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace leukocrypt {

namespace detail {
// Buffers of at least kRecycleMinBytes (ciphertexts, keys) come from, and return to, a small
// per-thread cache of freed buffers of exactly the same size and alignment (allocator.cpp): the
// evaluators allocate the same few shapes over and over (a square's three-row result, a layer's
// outputs), and through malloc a freed buffer is often split for a smaller request, so the next
// one of the same shape takes fresh pages and pays their first-touch faults again (MNIST CKKS:
// a fifth of the evaluation in page faults). Misses go to aligned_alloc (+ transparent huge
// pages from 2 MiB).
inline constexpr std::size_t kRecycleMinBytes = std::size_t{256} << 10;
void* large_alloc(std::size_t bytes, std::size_t align);
void large_free(void* p, std::size_t bytes, std::size_t align) noexcept;
}  // namespace detail

template <class T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  static constexpr std::size_t kAlignment = 64;
  // Buffers of at least this size (ciphertexts and keys at large N) are aligned to it and advised
  // for transparent huge pages: far fewer page faults and TLB misses (BFV key generation at
  // N = 32768 took half the time).
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;

  // Tag for a buffer whose every element the caller writes before reading any: no zero-fill (the
  // fill is a full extra pass over fresh memory, which on a VM also pays every first-touch fault).
  struct Uninitialized {};

  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n) { allocate(n); std::memset(data_, 0, bytes()); }
  AlignedBuffer(std::size_t n, Uninitialized) { allocate(n); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    AlignedBuffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // A deliberate copy.
  AlignedBuffer clone() const {
    AlignedBuffer c;
    c.allocate(size_);
    if (size_) std::memcpy(c.data_, data_, bytes());
    return c;
  }

  void swap(AlignedBuffer& o) noexcept { std::swap(data_, o.data_); std::swap(size_, o.size_); }
  // Resizes and zero-fills; old contents are discarded.
  void reset(std::size_t n) { AlignedBuffer tmp(n); swap(tmp); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }

 private:
  std::size_t bytes() const { return size_ * sizeof(T); }
  static std::size_t alignment_for(std::size_t n) { return n * sizeof(T) >= kHugePage ? kHugePage : kAlignment; }
  static std::size_t rounded_bytes(std::size_t n) {
    const std::size_t align = alignment_for(n);
    return (n * sizeof(T) + align - 1) / align * align;
  }
  void allocate(std::size_t n) {
    size_ = n;
    if (n == 0) { data_ = nullptr; return; }
    const std::size_t align = alignment_for(n), b = rounded_bytes(n);
    if (b >= detail::kRecycleMinBytes) {
      data_ = static_cast<T*>(detail::large_alloc(b, align));
      return;
    }
    data_ = static_cast<T*>(std::aligned_alloc(align, b));
    if (!data_) throw std::bad_alloc();
  }
  void release() noexcept {
    if (!data_) return;
    const std::size_t b = rounded_bytes(size_);
    if (b >= detail::kRecycleMinBytes) detail::large_free(data_, b, alignment_for(size_));
    else std::free(data_);
    data_ = nullptr;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace leukocrypt
