// Miller-Rabin, NTT prime search and primitive roots of unity.
#include "he/math/primes.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <string>

#include "common/error.h"

namespace leukocrypt::he {
namespace {

std::uint64_t mul_mod_u64(std::uint64_t a, std::uint64_t b, std::uint64_t n) {
  return static_cast<std::uint64_t>(static_cast<u128>(a) * b % n);
}

std::uint64_t pow_mod_u64(std::uint64_t b, std::uint64_t e, std::uint64_t n) {
  std::uint64_t r = 1 % n;
  b %= n;
  for (; e != 0; e >>= 1) {
    if (e & 1) r = mul_mod_u64(r, b, n);
    b = mul_mod_u64(b, b, n);
  }
  return r;
}

std::string format_bits(double bits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", bits);
  return buf;
}

void check_log_n(int log_n) {
  require(log_n >= 1 && log_n <= 20, "log_n " + std::to_string(log_n) + " out of range [1, 20]");
}

}  // namespace

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  // The first 12 primes as Miller-Rabin bases are a deterministic test below 3.3 * 10^24.
  constexpr std::uint64_t kBases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  for (std::uint64_t p : kBases) {
    if (n % p == 0) return n == p;
  }
  std::uint64_t d = n - 1;
  int s = std::countr_zero(d);
  d >>= s;
  for (std::uint64_t a : kBases) {
    std::uint64_t x = pow_mod_u64(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int i = 1; i < s && composite; ++i) {
      x = mul_mod_u64(x, x, n);
      if (x == n - 1) composite = false;
    }
    if (composite) return false;
  }
  return true;
}

std::vector<std::uint64_t> ntt_primes(double bits, int log_n, std::size_t count) {
  require(bits >= 1.0 && bits < Modulus::kMaxBits,
          "bits " + format_bits(bits) + " out of range [1, 61)");
  check_log_n(log_n);
  require(count >= 1, "count must be at least 1");
  const std::uint64_t two_n = std::uint64_t{1} << (log_n + 1);
  const std::uint64_t limit = std::uint64_t{1} << Modulus::kMaxBits;
  // Smallest candidate 1 (mod 2N) at or above ceil(2^bits); long double keeps fractional bit
  // counts exact to well below one unit of 2N.
  const auto lower = static_cast<std::uint64_t>(std::ceil(std::exp2l(static_cast<long double>(bits))));
  std::uint64_t p = lower <= 1 ? 1 + two_n : ((lower - 2) / two_n + 1) * two_n + 1;
  std::vector<std::uint64_t> primes;
  for (; primes.size() < count; p += two_n) {
    require(p < limit, "fewer than " + std::to_string(count) + " NTT primes between 2^" +
                           format_bits(bits) + " and 2^61 for log_n " + std::to_string(log_n));
    if (is_prime(p)) primes.push_back(p);
  }
  return primes;
}

std::vector<std::uint64_t> ntt_primes_below(int bits, int log_n, std::size_t count) {
  check_log_n(log_n);
  require(bits > log_n + 1 && bits <= Modulus::kMaxBits,
          "bits " + std::to_string(bits) + " out of range (log_n + 1, 61]");
  require(count >= 1, "count must be at least 1");
  const std::uint64_t two_n = std::uint64_t{1} << (log_n + 1);
  std::vector<std::uint64_t> primes;
  for (std::uint64_t p = (std::uint64_t{1} << bits) - two_n + 1; primes.size() < count; p -= two_n) {
    require(p > two_n, "fewer than " + std::to_string(count) + " NTT primes below 2^" +
                           std::to_string(bits) + " for log_n " + std::to_string(log_n));
    if (is_prime(p)) primes.push_back(p);
  }
  return primes;
}

std::uint64_t minimal_primitive_root(std::uint64_t two_n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  require(two_n >= 2 && std::has_single_bit(two_n) && (qv - 1) % two_n == 0,
          "no primitive " + std::to_string(two_n) + "-th root of unity modulo " + std::to_string(qv));
  require(is_prime(qv), "modulus " + std::to_string(qv) + " is not prime");
  // 1. Find any primitive root: g = x^((q-1)/2N) has order 2N exactly when g^N = -1.
  const std::uint64_t cofactor = (qv - 1) / two_n;
  std::uint64_t root = 0;
  for (std::uint64_t x = 2; x < qv; ++x) {
    std::uint64_t g = pow_mod(x, cofactor, q);
    if (pow_mod(g, two_n / 2, q) == qv - 1) { root = g; break; }
  }
  require(root != 0, "no primitive root found modulo " + std::to_string(qv));
  // 2. The primitive 2N-th roots are root^k for odd k; take the smallest.
  const std::uint64_t square = mul_mod(root, root, q);
  std::uint64_t best = root;
  for (std::uint64_t k = 3, g = mul_mod(root, square, q); k < two_n; k += 2, g = mul_mod(g, square, q)) {
    if (g < best) best = g;
  }
  return best;
}

}  // namespace leukocrypt::he
