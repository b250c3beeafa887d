// Garner's algorithm: x = d_0 + d_1 t_0 + d_2 t_0 t_1 + ..., each digit d_j < t_j, so x < T fits
// 128 bits without any multi-precision arithmetic.
#include "nn/crt.h"

#include "common/error.h"

namespace leukocrypt::nn {
namespace {

std::uint64_t mulmod(std::uint64_t a, std::uint64_t b, std::uint64_t p) {
  return std::uint64_t((UInt128(a) * b) % p);
}
std::uint64_t powmod(std::uint64_t a, std::uint64_t e, std::uint64_t p) {
  std::uint64_t r = 1 % p;
  while (e) {
    if (e & 1) r = mulmod(r, a, p);
    a = mulmod(a, a, p);
    e >>= 1;
  }
  return r;
}

}  // namespace

std::uint64_t Crt::reduce(Int128 v, std::uint64_t p) {
  Int128 r = v % Int128(p);
  if (r < 0) r += p;
  return std::uint64_t(r);
}

Crt::Crt(std::vector<std::uint64_t> primes) : primes_(std::move(primes)) {
  require(!primes_.empty(), "CRT: no primes");
  for (std::size_t j = 0; j < primes_.size(); ++j) {
    require(primes_[j] >= 3, "CRT: prime " + std::to_string(primes_[j]) + " too small");
    for (std::size_t k = 0; k < j; ++k)
      require(primes_[k] != primes_[j], "CRT: prime " + std::to_string(primes_[j]) + " repeated");
    require(product_ <= ((UInt128(1) << 127) - 1) / primes_[j],
            "CRT: product of the plaintext primes exceeds 2^127");
    // prefix product mod t_j, inverted by Fermat (t_j prime).
    std::uint64_t pre = 1 % primes_[j];
    for (std::size_t k = 0; k < j; ++k) pre = mulmod(pre, primes_[k] % primes_[j], primes_[j]);
    require(j == 0 || pre != 0, "CRT: primes are not coprime");
    inv_.push_back(j == 0 ? 1 : powmod(pre, primes_[j] - 2, primes_[j]));
    product_ *= primes_[j];
  }
}

Int128 Crt::lift(const std::uint64_t* r) const {
  UInt128 x = 0, radix = 1;
  for (std::size_t j = 0; j < primes_.size(); ++j) {
    const std::uint64_t p = primes_[j];
    // d_j = (r_j - x) * (t_0..t_{j-1})^-1 mod t_j
    const std::uint64_t xm = std::uint64_t(x % p);
    const std::uint64_t diff = (r[j] % p + p - xm) % p;
    const std::uint64_t d = mulmod(diff, inv_[j], p);
    x += radix * d;
    radix *= p;
  }
  if (x > product_ / 2) return -Int128(product_ - x);
  return Int128(x);
}

}  // namespace leukocrypt::nn
