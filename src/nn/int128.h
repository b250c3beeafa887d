// Exact integer helpers for the integer (raw) model: signed 128-bit values with overflow checks,
// decimal text (JSON has no 128-bit numbers) and the bit count of a signed value.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace leukocrypt::nn {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// Thrown when an exact integer result does not fit in 128 bits (signed).
class OverflowError : public Error {
 public:
  using Error::Error;
};

inline Int128 checked_add(Int128 a, Int128 b) {
  Int128 r;
  if (__builtin_add_overflow(a, b, &r)) throw OverflowError("integer overflow (> 127 bits) in an addition");
  return r;
}
inline Int128 checked_mul(Int128 a, Int128 b) {
  Int128 r;
  if (__builtin_mul_overflow(a, b, &r)) throw OverflowError("integer overflow (> 127 bits) in a multiplication");
  return r;
}

inline UInt128 abs128(Int128 v) { return v < 0 ? UInt128(0) - UInt128(v) : UInt128(v); }

// Bits of |v| (0 for 0).
inline int bit_length(UInt128 v) {
  int n = 0;
  while (v) { ++n; v >>= 1; }
  return n;
}
// Bits a signed value needs, sign included: |v| < 2^(b-1). A modulus T > 2|v| holds it.
inline int signed_bits(UInt128 max_abs) { return bit_length(max_abs) + 1; }

std::string to_string128(Int128 v);
// Parses an optional '-' and decimal digits; throws FormatError naming `what`.
Int128 parse_int128(const std::string& s, const std::string& what);

inline double to_double(Int128 v) { return static_cast<double>(v); }

}  // namespace leukocrypt::nn
