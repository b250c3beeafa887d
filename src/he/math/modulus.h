// Word-size modular arithmetic for NTT-friendly primes q < 2^61: the Modulus type with its
// Barrett constants, free add/sub/mul/pow/inv functions and Shoup precomputed operands.
// Everything here is header-inline: it is called from the innermost kernel loops.
#pragma once

#include <cstdint>

namespace leukocrypt::he {

using u128 = unsigned __int128;

// High 64 bits of a 64x64-bit product.
inline std::uint64_t mul_hi(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint64_t>((static_cast<u128>(a) * b) >> 64);
}

// A modulus 2 <= q < 2^61 with its Barrett constant floor(2^128 / q) as two 64-bit words.
// The 2^61 bound leaves head room for the lazy ranges [0, 4q) of the Harvey NTT.
class Modulus {
 public:
  static constexpr int kMaxBits = 61;

  // Throws InvalidArgument for q < 2 or q >= 2^61.
  explicit Modulus(std::uint64_t q);

  std::uint64_t value() const { return value_; }
  int bit_count() const { return bit_count_; }
  // floor(2^128 / q) = barrett_hi * 2^64 + barrett_lo; barrett_hi is also floor(2^64 / q).
  std::uint64_t barrett_hi() const { return barrett_hi_; }
  std::uint64_t barrett_lo() const { return barrett_lo_; }

  // a mod q for any 64-bit a.
  std::uint64_t reduce(std::uint64_t a) const {
    std::uint64_t r = a - mul_hi(a, barrett_hi_) * value_;  // in [0, 2q)
    return r >= value_ ? r - value_ : r;
  }

  // (hi * 2^64 + lo) mod q for any 128-bit input.
  // Barrett with the full 128-bit ratio: the quotient estimate floor(x * r / 2^128) is exact or
  // one too small, so the remainder is in [0, 2q) and one subtraction finishes.
  std::uint64_t reduce128(std::uint64_t hi, std::uint64_t lo) const {
    // 1. Middle column of (hi:lo) * (barrett_hi:barrett_lo), carries kept.
    u128 mid = static_cast<u128>(mul_hi(lo, barrett_lo_)) +
               static_cast<u128>(lo) * barrett_hi_;
    u128 mid2 = static_cast<u128>(static_cast<std::uint64_t>(mid)) +
                static_cast<u128>(hi) * barrett_lo_;
    // 2. Top word: the quotient estimate (only its low 64 bits matter).
    std::uint64_t quotient = hi * barrett_hi_ + static_cast<std::uint64_t>(mid >> 64) +
                             static_cast<std::uint64_t>(mid2 >> 64);
    // 3. Remainder, computed modulo 2^64, lies in [0, 2q).
    std::uint64_t r = lo - quotient * value_;
    return r >= value_ ? r - value_ : r;
  }

  friend bool operator==(const Modulus& a, const Modulus& b) { return a.value_ == b.value_; }

 private:
  std::uint64_t value_;
  int bit_count_;
  std::uint64_t barrett_hi_;
  std::uint64_t barrett_lo_;
};

// a, b in [0, q).
inline std::uint64_t add_mod(std::uint64_t a, std::uint64_t b, std::uint64_t q) {
  std::uint64_t s = a + b;
  return s >= q ? s - q : s;
}
inline std::uint64_t sub_mod(std::uint64_t a, std::uint64_t b, std::uint64_t q) {
  return a >= b ? a - b : a + q - b;
}
inline std::uint64_t neg_mod(std::uint64_t a, std::uint64_t q) { return a == 0 ? 0 : q - a; }

// a * b mod q for a, b < 2^64 (no range requirement).
inline std::uint64_t mul_mod(std::uint64_t a, std::uint64_t b, const Modulus& q) {
  u128 p = static_cast<u128>(a) * b;
  return q.reduce128(static_cast<std::uint64_t>(p >> 64), static_cast<std::uint64_t>(p));
}

// base^exponent mod q.
std::uint64_t pow_mod(std::uint64_t base, std::uint64_t exponent, const Modulus& q);

// a^-1 mod q; throws InvalidArgument when gcd(a, q) != 1.
std::uint64_t inv_mod(std::uint64_t a, const Modulus& q);

// A constant multiplier w in [0, q) with its Shoup quotient floor(w * 2^64 / q): multiplying by
// it costs two multiplications and no division (Shoup; Harvey 2014, Algorithm 2).
struct ShoupOperand {
  std::uint64_t value = 0;
  std::uint64_t quotient = 0;
};

// w must be in [0, q).
inline ShoupOperand make_shoup(std::uint64_t w, std::uint64_t q) {
  return {w, static_cast<std::uint64_t>((static_cast<u128>(w) << 64) / q)};
}

// a * w mod q in [0, 2q) for any 64-bit a (needs q < 2^63).
inline std::uint64_t mul_mod_shoup_lazy(std::uint64_t a, const ShoupOperand& w, std::uint64_t q) {
  return a * w.value - mul_hi(a, w.quotient) * q;
}

// a * w mod q in [0, q) for any 64-bit a.
inline std::uint64_t mul_mod_shoup(std::uint64_t a, const ShoupOperand& w, std::uint64_t q) {
  std::uint64_t r = mul_mod_shoup_lazy(a, w, q);
  return r >= q ? r - q : r;
}

}  // namespace leukocrypt::he
