// Minimal multi-precision unsigned integers (little-endian 64-bit limbs) for the few places that
// need the full product Q = q_0...q_{l-1}: CRT composition in the exact noise-budget measurement
// and constants computed once per context. Not for hot loops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/math/modulus.h"

namespace leukocrypt::he {

using BigUint = std::vector<std::uint64_t>;

// a *= w (grows a when needed).
inline void big_mul_word(BigUint& a, std::uint64_t w) {
  std::uint64_t carry = 0;
  for (auto& limb : a) {
    u128 p = static_cast<u128>(limb) * w + carry;
    limb = static_cast<std::uint64_t>(p);
    carry = static_cast<std::uint64_t>(p >> 64);
  }
  if (carry) a.push_back(carry);
}

// acc += a * w; acc must have at least a.size() + 1 limbs; returns the carry out of acc.
inline std::uint64_t big_add_mul_word(std::uint64_t* acc, std::size_t acc_size, const BigUint& a,
                                      std::uint64_t w) {
  std::uint64_t carry = 0;
  std::size_t i = 0;
  for (; i < a.size(); ++i) {
    u128 p = static_cast<u128>(a[i]) * w + acc[i] + carry;
    acc[i] = static_cast<std::uint64_t>(p);
    carry = static_cast<std::uint64_t>(p >> 64);
  }
  for (; carry && i < acc_size; ++i) {
    u128 s = static_cast<u128>(acc[i]) + carry;
    acc[i] = static_cast<std::uint64_t>(s);
    carry = static_cast<std::uint64_t>(s >> 64);
  }
  return carry;
}

// Compares a (size limbs) with b (zero-extended).
inline int big_compare(const std::uint64_t* a, std::size_t size, const BigUint& b) {
  for (std::size_t i = size; i-- > 0;) {
    std::uint64_t bi = i < b.size() ? b[i] : 0;
    if (a[i] != bi) return a[i] < bi ? -1 : 1;
  }
  return 0;
}

// a -= b (a >= b).
inline void big_sub(std::uint64_t* a, std::size_t size, const BigUint& b) {
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < size; ++i) {
    std::uint64_t bi = i < b.size() ? b[i] : 0;
    u128 d = static_cast<u128>(a[i]) - bi - borrow;
    a[i] = static_cast<std::uint64_t>(d);
    borrow = static_cast<std::uint64_t>(d >> 64) ? 1 : 0;
  }
}

// out = b - a (b >= a), size limbs.
inline void big_rsub(std::uint64_t* a, std::size_t size, const BigUint& b) {
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < size; ++i) {
    std::uint64_t bi = i < b.size() ? b[i] : 0;
    u128 d = static_cast<u128>(bi) - a[i] - borrow;
    a[i] = static_cast<std::uint64_t>(d);
    borrow = static_cast<std::uint64_t>(d >> 64) ? 1 : 0;
  }
}

inline int big_bit_count(const std::uint64_t* a, std::size_t size) {
  for (std::size_t i = size; i-- > 0;)
    if (a[i]) return static_cast<int>(64 * i) + 64 - __builtin_clzll(a[i]);
  return 0;
}

}  // namespace leukocrypt::he
