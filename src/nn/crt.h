// Chinese remaindering of residues modulo several plaintext primes (Garner's mixed radix) with a
// centred lift to (-T/2, T/2], T = product of the primes (< 2^127). This is how the key holder
// joins the per-prime BFV results into the exact integer logits.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/int128.h"

namespace leukocrypt::nn {

class Crt {
 public:
  // Distinct primes, product < 2^127; throws InvalidArgument otherwise.
  explicit Crt(std::vector<std::uint64_t> primes);
  const std::vector<std::uint64_t>& primes() const { return primes_; }
  UInt128 product() const { return product_; }
  // residues[j] in [0, primes[j]); returns the centred representative of x mod T.
  Int128 lift(const std::uint64_t* residues) const;
  // Reduces a signed value into [0, p).
  static std::uint64_t reduce(Int128 v, std::uint64_t p);

 private:
  std::vector<std::uint64_t> primes_;
  std::vector<std::uint64_t> inv_;  // (t_0 ... t_{j-1})^-1 mod t_j
  UInt128 product_ = 1;
};

}  // namespace leukocrypt::nn
