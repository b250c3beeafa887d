// CKKS parameters: ring degree N (N/2 complex slots), ciphertext primes q_0..q_{L-1} and one
// special prime p for key switching, and the default scale. q_0 holds the result after the last
// rescale (it must exceed scale * max|value| with room to spare); q_1..q_{L-1} are the rescale
// primes, chosen as close to the scale as NTT-friendly primes allow so that every rescale keeps
// the scale near its nominal value (the exact scale is tracked on every ciphertext anyway).
// Creation checks the same HomomorphicEncryption.org 128-bit table as BFV (rlwe/security.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "he/rlwe/security.h"

namespace leukocrypt::ckks {

using rlwe::Security;

class Params {
 public:
  // q_0 = the largest prime = 1 (mod 2N) below 2^first_bits; `levels` rescale primes nearest
  // 2^scale_bits (alternately above and below it, closest first); special prime = the largest
  // below 2^special_bits; default scale 2^scale_bits. Bit sizes in [20, 60].
  // Throws InvalidArgument (shape) or SecurityError (log2(q*p) above the table for N).
  static Params create(std::size_t n, int first_bits, std::size_t levels, int scale_bits, int special_bits,
                       Security security = Security::k128);
  // Explicit primes; default_scale > 1 and finite.
  static Params create_from_primes(std::size_t n, std::vector<std::uint64_t> q, std::uint64_t special_prime,
                                   double default_scale, Security security = Security::k128);
  // 128-bit sets with SEAL's default prime count for N (3, 5, 9, 18 primes), within a few bits
  // of the table's log2(q*p) budget (rescale primes may lie just above 2^scale_bits), every prime
  // <= 50 bits (SIMD kernels), the special prime about as large as the largest q_i (key-switching
  // noise is divided by it). q_0 + levels x scale + special:
  // 4096: 38 + 1 x 30 + 40; 8192: 47 + 3 x 40 + 50; 16384: 50 + 7 x 45 + 50;
  // 32768: 50 + 16 x 48 + 50.
  static Params default_for(std::size_t n);
  // The smallest 128-bit N >= min_n (1024..32768) that holds q_0 (first_bits), `levels` rescale
  // primes near 2^scale_bits and a special prime of max(first_bits, scale_bits + 1) bits (about as
  // large as the largest q_i, at most 59 bits; special_bits > 0 asks for that size instead): what a
  // plan of `levels` rescales needs. Throws SecurityError naming the bits needed and the table's
  // largest budget when no N fits.
  static Params smallest_secure(std::size_t levels, int scale_bits, int first_bits, std::size_t min_n = 1024,
                                int special_bits = 0);

  std::size_t n() const { return n_; }
  int log_n() const { return log_n_; }
  std::size_t slots() const { return n_ / 2; }
  const std::vector<std::uint64_t>& q() const { return q_; }
  std::uint64_t special_prime() const { return special_; }
  // L: the number of ciphertext primes; a fresh ciphertext has level L, each rescale drops one.
  std::size_t max_level() const { return q_.size(); }
  double default_scale() const { return default_scale_; }
  Security security() const { return security_; }
  // log2 of the product of the first `level` primes (default: all).
  double log2_q(std::size_t level = 0) const;
  double log2_qp() const;
  // 64-bit hash (BLAKE2b) of everything above, distinct from every BFV params id (own tag).
  std::uint64_t id() const { return id_; }
  std::string to_json() const;

  friend bool operator==(const Params& a, const Params& b) { return a.id_ == b.id_; }

 private:
  Params() = default;
  std::size_t n_ = 0;
  int log_n_ = 0;
  std::vector<std::uint64_t> q_;
  std::uint64_t special_ = 0;
  double default_scale_ = 0;
  Security security_ = Security::k128;
  std::uint64_t id_ = 0;
};

}  // namespace leukocrypt::ckks
