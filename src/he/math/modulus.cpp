// Out-of-line parts of Modulus: construction (Barrett constants), pow_mod, inv_mod.
#include "he/math/modulus.h"

#include <bit>
#include <string>

#include "common/error.h"

namespace leukocrypt::he {

Modulus::Modulus(std::uint64_t q) : value_(q) {
  require(q >= 2 && q < (std::uint64_t{1} << kMaxBits),
          "modulus " + std::to_string(q) + " out of range: need 2 <= q < 2^61");
  bit_count_ = std::bit_width(q);
  // floor(2^128 / q): 2^128 itself does not fit, but (2^128 - 1) / q is the same unless q | 2^128,
  // i.e. q is a power of two, where it is one less.
  u128 ratio = ~u128{0} / q;
  if (std::has_single_bit(q)) ratio += 1;
  barrett_hi_ = static_cast<std::uint64_t>(ratio >> 64);
  barrett_lo_ = static_cast<std::uint64_t>(ratio);
}

std::uint64_t pow_mod(std::uint64_t base, std::uint64_t exponent, const Modulus& q) {
  std::uint64_t result = q.reduce(1);
  base = q.reduce(base);
  while (exponent != 0) {
    if (exponent & 1) result = mul_mod(result, base, q);
    base = mul_mod(base, base, q);
    exponent >>= 1;
  }
  return result;
}

std::uint64_t inv_mod(std::uint64_t a, const Modulus& q) {
  // Extended Euclid on (a mod q, q), tracking only the coefficient of a.
  std::int64_t r0 = static_cast<std::int64_t>(q.value());
  std::int64_t r1 = static_cast<std::int64_t>(q.reduce(a));
  std::int64_t t0 = 0, t1 = 1;
  while (r1 != 0) {
    std::int64_t quot = r0 / r1;
    std::int64_t r2 = r0 - quot * r1;
    std::int64_t t2 = t0 - quot * t1;
    r0 = r1; r1 = r2;
    t0 = t1; t1 = t2;
  }
  require(r0 == 1, std::to_string(a) + " is not invertible modulo " + std::to_string(q.value()));
  return t0 < 0 ? static_cast<std::uint64_t>(t0 + static_cast<std::int64_t>(q.value()))
                : static_cast<std::uint64_t>(t0);
}

}  // namespace leukocrypt::he
