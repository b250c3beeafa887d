// Key switching for both schemes: the RNS gadget decomposition with k special primes, product P
// (Gentry-Halevi-Smart 2012; the hybrid method of Han-Ki 2020). Given a polynomial d mod
// q_0..q_{l-1} that multiplies s' in a decryption, adds to (c0, c1) a pair that decrypts to d*s'
// under s: the digits [d]_{D_g} (D_g: the product of k consecutive primes; k = 1: one digit per
// prime, as SEAL) are raised to every other prime by fast base conversion (ModUp), sum_g digit_g *
// key_g is formed over q and P, then divided by P with rounding (ModDown). With dnum = ceil(l/k)
// digits the cost is dnum(l + k) products and about dnum(l + k - k) + 2(l + k) transforms, where
// k = 1 needs l(l+1) of each: fewer digits, smaller keys, more primes. Several special primes
// need every prime below 2^50 (the SIMD kernels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/rlwe/keys.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::rlwe {

// d: `level` rows in coefficient form (values in [0, q_i)). d_ntt: the same polynomial in the NTT
// domain, or nullptr; when given, digit i's transform mod q_i is its row i (saves l NTTs).
// c0, c1: `level` rows, in coefficient form (BFV) or, with ntt_output, in the NTT domain (CKKS);
// the switched pair is added to them. Throws InvalidArgument when key does not have the ring's
// shape.
void key_switch_add(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                    const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, std::size_t level,
                    bool ntt_output);

// Hoisting (Halevi-Shoup 2018): several automorphisms of one polynomial d share one gadget
// decomposition. The digits [d]_{q_i}, reduced mod every target prime and transformed, are
// computed once (digits x (level + k) forward NTTs); an automorphism X -> X^g then permutes the
// transformed digits instead of decomposing d(X^g) again. The permuted digits are the digits of
// d(X^g) up to sign (coefficients -[c]_{q_i} instead of q_i - [c]_{q_i}): congruent mod q_i and no
// larger, so the key switch decrypts to the same value with the same noise bound (not the same
// bits as key_switch_add on d(X^g)).
class HoistedDigits {
 public:
  // d: `level` rows in coefficient form (values in [0, q_i)); 1 <= level <= ring.max_level().
  HoistedDigits(const RingContext& ring, const std::uint64_t* d, std::size_t level);
  std::size_t level() const { return level_; }
  std::size_t digits() const { return digits_; }
  // Digit g in target t, transformed: t < level() is q_t, t = level() + m the special prime p_m.
  const std::uint64_t* row(std::size_t t, std::size_t g) const { return rows_.data() + (t * digits_ + g) * n_; }

 private:
  std::size_t n_ = 0, level_ = 0, digits_ = 0, targets_ = 0;
  std::vector<std::uint64_t> rows_;
};

// Adds to c0, c1 (level rows each, NTT domain) the key switch of d(X^g) from s(X^g) to s, where
// digits = HoistedDigits of d and index = automorphism_ntt_index for g (ring/rns_poly.h). key:
// the Galois key for g; key_permuted: it is in evaluation form (GaloisKeys::permute_for_evaluation),
// which gives the same result bit for bit with 2(l+1) instead of l(l+1) row permutations. Throws
// InvalidArgument when key does not have the ring's shape.
void key_switch_hoisted_add(const RingContext& ring, const HoistedDigits& digits, const std::uint32_t* index,
                            const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, bool key_permuted = false);

// The automorphism X -> X^g of a ciphertext (c0, c1) (`level` rows each, NTT domain) with g's key
// in evaluation form (GaloisKeys::permute_for_evaluation), into (r0, r1) (NTT domain): c1 is
// switched as it is (its NTT rows are the digits' own transforms) and c0 + the switched pair is
// permuted by index (automorphism_ntt_index for g; not in scratch slots 6 or 7, which hold c1 in
// coefficients and the switched pair). The BFV and CKKS evaluators' rotations in that form.
void automorphism_ntt_permuted_key(const RingContext& ring, const std::uint64_t* c0, const std::uint64_t* c1,
                                   std::size_t level, const KeySwitchKey& key, const std::uint32_t* index,
                                   std::uint64_t* r0, std::uint64_t* r1);

// A sum of key switches divided by p once (ModDown hoisting, Bossuat et al. 2021): the products
// sum_i [d]_{q_i} * key_i of every term, over q_0..q_{l-1} and p in the NTT domain, are added up
// first and the division by p with rounding is applied to the total. The result decrypts to the
// sum of the terms' key switches with one rounding instead of one per term (no more noise).
class KeySwitchSum {
 public:
  // Zero, for `level` ciphertext primes and the ring's special primes.
  KeySwitchSum(const RingContext& ring, std::size_t level);
  std::size_t level() const { return level_; }
  std::size_t targets() const { return targets_; }
  // Component k (0, 1), target t (t < level(): q_t; t = level() + m: the special prime p_m), NTT
  // form, values in [0, prime).
  std::uint64_t* row(std::size_t k, std::size_t t) { return rows_.data() + (k * targets_ + t) * n_; }
  const std::uint64_t* row(std::size_t k, std::size_t t) const { return rows_.data() + (k * targets_ + t) * n_; }
  // this += o (the same n and level).
  void add(const RingContext& ring, const KeySwitchSum& o);

 private:
  std::size_t n_ = 0, level_ = 0, targets_ = 0;
  std::vector<std::uint64_t> rows_;
};

// Adds to sum one term: the products of d's digits with key, as key_switch_add forms them (d, d_ntt
// as there, sum.level() rows), before the division by p. index: when given (key in evaluation
// form, keys.h), the products are permuted by it before they are added: the term is then the key
// switch of d(X^g), g the index's automorphism.
void key_switch_products_add(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                             const KeySwitchKey& key, const std::uint32_t* index, KeySwitchSum& sum);

// Adds to c0, c1 (sum.level() rows each, NTT domain) the sum divided by p with rounding.
void key_switch_sum_finish(const RingContext& ring, const KeySwitchSum& sum, std::uint64_t* c0, std::uint64_t* c1);

}  // namespace leukocrypt::rlwe
