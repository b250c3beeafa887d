// BFV parameters: ring degree N, ciphertext primes q_0..q_{L-1}, k special primes p_0..p_{k-1}
// for key switching (k = 1: one digit per prime; k > 1: hybrid, digits of k primes), plaintext
// modulus t. Creation checks the HomomorphicEncryption.org 128-bit table for
// a ternary secret (Albrecht et al., "Homomorphic Encryption Standard", 2018, Table 1) and refuses
// weaker sets unless Security::kInsecureForTests is passed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "he/rlwe/security.h"

namespace leukocrypt::bfv {

using rlwe::Security;

class Params {
 public:
  // q_bits: bit sizes of the ciphertext primes followed by the special primes (the LAST
  // `special_primes` entries; one, as in SEAL's coeff_modulus, by default). Each size b in
  // [20, 60]; primes are the largest p = 1 (mod 2N) below 2^b, distinct and != t. t: 2 <= t < 2^60,
  // coprime to every prime. Several special primes need every prime below 2^50.
  // Throws InvalidArgument (shape) or SecurityError (log2(q*P) above the table for N).
  static Params create(std::size_t n, const std::vector<int>& q_bits, std::uint64_t t,
                       Security security = Security::k128, std::size_t special_primes = 1);
  // Explicit primes: q (ciphertext primes, each = 1 mod 2N) and the special prime(s).
  static Params create_from_primes(std::size_t n, std::vector<std::uint64_t> q,
                                   std::uint64_t special_prime, std::uint64_t t,
                                   Security security = Security::k128);
  static Params create_from_primes(std::size_t n, std::vector<std::uint64_t> q,
                                   std::vector<std::uint64_t> special_primes, std::uint64_t t,
                                   Security security = Security::k128);
  // The 128-bit default-size modulus for N in {2048, ..., 32768} (log2(q*p) = the table's
  // maximum, primes <= 50 bits): 2048: 27+27; 4096: 36,36,37; 8192: 43,43,44,44,44;
  // 16384: 48x3 + 49x6; 32768: 48 + 49x17.
  static Params default_for(std::size_t n, std::uint64_t t);
  // Bit sizes used by default_for (the last one is the special prime).
  static std::vector<int> default_q_bits(std::size_t n);
  // Max log2(q*p) for 128-bit security with a ternary secret; 0 when N is not in the table.
  static int max_secure_bits(std::size_t n);

  std::size_t n() const { return n_; }
  int log_n() const { return log_n_; }
  // Ciphertext primes q_0..q_{L-1} (level L = all present).
  const std::vector<std::uint64_t>& q() const { return q_; }
  // The special primes (product P); special_prime() is the first.
  const std::vector<std::uint64_t>& special_primes() const { return specials_; }
  std::uint64_t special_prime() const { return specials_.front(); }
  double log2_special() const;
  std::uint64_t t() const { return t_; }
  std::size_t max_level() const { return q_.size(); }
  Security security() const { return security_; }
  // log2 of the product of the first `level` ciphertext primes (default: all).
  double log2_q(std::size_t level = 0) const;
  // log2(q * P): what the security table bounds.
  double log2_qp() const;
  // True when t is a prime = 1 (mod 2N): slots are available (BatchEncoder).
  bool supports_batching() const { return batching_; }
  // 64-bit hash (BLAKE2b) of everything above; stored in every serialized object.
  std::uint64_t id() const { return id_; }
  std::string to_json() const;

  friend bool operator==(const Params& a, const Params& b) { return a.id_ == b.id_; }

 private:
  Params() = default;
  std::size_t n_ = 0;
  int log_n_ = 0;
  std::vector<std::uint64_t> q_;
  std::vector<std::uint64_t> specials_;
  std::uint64_t t_ = 0;
  Security security_ = Security::k128;
  bool batching_ = false;
  std::uint64_t id_ = 0;
};

}  // namespace leukocrypt::bfv
