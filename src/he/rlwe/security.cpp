// The 128-bit table and modulus-chain validation (see security.h).
#include "he/rlwe/security.h"

#include <bit>
#include <string>

#include "common/error.h"
#include "he/kernels/ntt.h"
#include "he/math/primes.h"

namespace leukocrypt::rlwe {

int max_secure_bits(std::size_t n) {
  switch (n) {
    case 1024: return 27;
    case 2048: return 54;
    case 4096: return 109;
    case 8192: return 218;
    case 16384: return 438;
    case 32768: return 881;
    default: return 0;
  }
}

void require_128_bit(std::size_t n, double log2_qp, const char* who) {
  const int max_bits = max_secure_bits(n);
  if (max_bits == 0)
    throw SecurityError(std::string(who) + ": N=" + std::to_string(n) +
                        " is not in the HomomorphicEncryption.org 128-bit table (1024..32768)");
  if (log2_qp > max_bits)
    throw SecurityError(std::string(who) + ": log2(q*p) = " + std::to_string(log2_qp) +
                        " bits exceeds the 128-bit limit " + std::to_string(max_bits) + " for N=" + std::to_string(n) +
                        " (HomomorphicEncryption.org, ternary secret); pass Security::kInsecureForTests only in tests");
}

void require_ntt_primes(std::size_t n, const std::vector<std::uint64_t>& q, const std::vector<std::uint64_t>& specials,
                        const char* who) {
  const std::string w(who);
  require(n >= 8 && n <= 32768 && (n & (n - 1)) == 0,
          w + ": N must be a power of two in [8, 32768], got " + std::to_string(n));
  require(!q.empty() && q.size() <= 60, w + ": need 1..60 ciphertext primes, got " + std::to_string(q.size()));
  require(!specials.empty() && specials.size() <= 60,
          w + ": need 1..60 special primes, got " + std::to_string(specials.size()));
  std::vector<std::uint64_t> all = q;
  all.insert(all.end(), specials.begin(), specials.end());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::uint64_t v = all[i];
    const std::string name = i >= q.size() ? (specials.size() == 1 ? std::string("special prime")
                                                                   : "special prime p_" + std::to_string(i - q.size()))
                                           : "q_" + std::to_string(i);
    if (specials.size() > 1)
      require(std::bit_width(v) <= he::kIfmaMaxModulusBits,
              w + ": " + name + " has " + std::to_string(std::bit_width(v)) +
                  " bits; several special primes need every prime below 2^" +
                  std::to_string(he::kIfmaMaxModulusBits));
    require(v < (1ULL << 60) && v >= (1ULL << 17), w + ": " + name + "=" + std::to_string(v) + " outside [2^17, 2^60)");
    require(he::is_prime(v), w + ": " + name + "=" + std::to_string(v) + " is not prime");
    require(v % (2 * n) == 1, w + ": " + name + "=" + std::to_string(v) + " is not 1 mod 2N=" + std::to_string(2 * n));
    for (std::size_t j = 0; j < i; ++j) require(all[j] != v, w + ": prime " + std::to_string(v) + " appears twice");
  }
}

}  // namespace leukocrypt::rlwe
