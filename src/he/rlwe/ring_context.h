// RingContext: the scheme-neutral part of a parameter set -- ring degree N, ciphertext primes
// q_0..q_{L-1}, the special prime p used by key switching, their NTT tables and the constants for
// dividing by p. bfv::Context and ckks::Context derive from it, so keys, key generation, key
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

class RingContext {
 public:
  // q: ciphertext primes (each = 1 mod 2N); special: the key-switching prime. The derived scheme
  // context has validated them already (Params).
  RingContext(std::uint64_t params_id, std::size_t n, const std::vector<std::uint64_t>& q, std::uint64_t special);
  RingContext(const RingContext&) = delete;
  RingContext& operator=(const RingContext&) = delete;

  std::uint64_t params_id() const { return params_id_; }
  std::size_t n() const { return n_; }
  // L: the number of ciphertext primes.
  std::size_t max_level() const { return moduli_.size() - 1; }
  // Key-level base: index i < L is q_i, index L is the special prime p.
  const Modulus& modulus(std::size_t i) const { return moduli_[i]; }
  const NttTables& ntt(std::size_t i) const { return *ntt_[i]; }
  std::size_t special_index() const { return max_level(); }
  // Key switching: p mod q_j and p^-1 mod q_j, j < L.
  const std::vector<std::uint64_t>& special_mod_q() const { return p_mod_q_; }
  const std::vector<ShoupOperand>& special_inv_mod_q() const { return p_inv_mod_q_; }
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
  std::vector<std::uint64_t> p_mod_q_;
  std::vector<ShoupOperand> p_inv_mod_q_;
  bool all_simd_ = true;
  std::vector<std::uint32_t> bitrev_;
};

using RingContextPtr = std::shared_ptr<const RingContext>;

}  // namespace leukocrypt::rlwe
