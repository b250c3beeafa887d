// RingContext: the scheme-neutral part of a parameter set -- ring degree N, ciphertext primes
// q_0..q_{L-1}, the k special primes p_0..p_{k-1} (product P) used by key switching, their NTT
// tables and the constants for dividing by P. Key switching decomposes in digits of k consecutive
// ciphertext primes (k = 1: one digit per prime, as SEAL; k > 1: the hybrid method of Han-Ki 2020
// with ceil(L/k) digits). bfv::Context and ckks::Context derive from it, so keys, key generation, key
// switching, public/secret-key encryption of zero and key serialization (all in rlwe/) are written
// once for both schemes. Immutable after construction; safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "he/kernels/ntt.h"
#include "he/math/modulus.h"

namespace leukocrypt::rlwe {

using he::Modulus;
using he::NttTables;
using he::ShoupOperand;

// Fast base conversion (Bajard et al. 2016) of a group of consecutive primes q_b..q_{b+size-1}
// (product D) into another prime t: sum_m [x_m * hat_inv_m]_{q_m} * (D/q_m) mod t, which is x + u*D
// with 0 <= u < size. Key switching converts its digits (ModUp) and the special primes (ModDown).
struct BaseConversion {
  std::size_t begin = 0, size = 0;   // ring prime indices begin .. begin + size - 1
  std::vector<ShoupOperand> hat_inv;  // [m]: (D/q_m)^-1 mod q_m
  std::vector<ShoupOperand> hat_mod;  // [t * size + m]: (D/q_m) mod prime t, every key-level prime t
};

class RingContext {
 public:
  // q: ciphertext primes (each = 1 mod 2N); specials: the key-switching primes (at least one).
  // The derived scheme context has validated them already (Params).
  RingContext(std::uint64_t params_id, std::size_t n, const std::vector<std::uint64_t>& q,
              const std::vector<std::uint64_t>& specials);
  RingContext(const RingContext&) = delete;
  RingContext& operator=(const RingContext&) = delete;

  std::uint64_t params_id() const { return params_id_; }
  std::size_t n() const { return n_; }
  // L: the number of ciphertext primes.
  std::size_t max_level() const { return moduli_.size() - specials_; }
  // k: the number of special primes; the key-level base has L + k primes.
  std::size_t special_count() const { return specials_; }
  std::size_t key_primes() const { return moduli_.size(); }
  // Key-switching digits at level l: ceil(l / k); digit g covers primes g*k .. min(g*k + k, l) - 1.
  std::size_t digits(std::size_t level) const { return (level + specials_ - 1) / specials_; }
  // Key-level base: index i < L is q_i, index L + m is the special prime p_m.
  const Modulus& modulus(std::size_t i) const { return moduli_[i]; }
  const NttTables& ntt(std::size_t i) const { return *ntt_[i]; }
  // The first special prime's index (L).
  std::size_t special_index() const { return max_level(); }
  // Key switching: P mod q_j and P^-1 mod q_j, j < L.
  const std::vector<std::uint64_t>& special_mod_q() const { return p_mod_q_; }
  const std::vector<ShoupOperand>& special_inv_mod_q() const { return p_inv_mod_q_; }
  // Digit g's conversion at level l (its primes below l), g < digits(l).
  const BaseConversion& digit_conversion(std::size_t level, std::size_t g) const { return digit_conv_[level - 1][g]; }
  // The special primes' conversion (ModDown), and (P - 1) / 2 mod q_j for its rounding.
  const BaseConversion& special_conversion() const { return special_conv_; }
  std::uint64_t half_special_mod_q(std::size_t j) const { return half_p_mod_q_[j]; }
  // Whether every prime (special included) is below 2^50, so the SIMD kernels apply everywhere.
  bool all_simd() const { return all_simd_; }
  // The log2(N)-bit reversal of 0..N-1: the NTT's output order (automorphisms in the NTT domain).
  const std::uint32_t* bitrev() const { return bitrev_.data(); }

 protected:
  ~RingContext() = default;  // owned through the scheme context
  const std::vector<Modulus>& moduli() const { return moduli_; }

 private:
  std::uint64_t params_id_;
  std::size_t n_;
  std::vector<Modulus> moduli_;
  std::vector<std::unique_ptr<NttTables>> ntt_;
  std::size_t specials_ = 1;
  std::vector<std::uint64_t> p_mod_q_;
  std::vector<ShoupOperand> p_inv_mod_q_;
  std::vector<std::uint64_t> half_p_mod_q_;
  std::vector<std::vector<BaseConversion>> digit_conv_;  // [level - 1][digit]
  BaseConversion special_conv_;
  bool all_simd_ = true;
  std::vector<std::uint32_t> bitrev_;
};

using RingContextPtr = std::shared_ptr<const RingContext>;

}  // namespace leukocrypt::rlwe
