// Homomorphic operations on CKKS ciphertexts (lc_he: no secret material). Ciphertexts live in the
// NTT domain, so multiplications are element-wise. Every method is const and thread-safe (scratch
// memory is thread-local). Binary ops check params id, level and size and -- for additions --
// the scale, and throw InvalidArgument naming the mismatch ("ciphertexts at different levels (3
// vs 2)"). Scales are exact: multiplying multiplies them, rescaling divides by the prime dropped.
//
// Cost (N ring degree, l level): add/sub/negate/plain/scalar ops O(N*l) without NTTs;
// multiply/square 4/3 products per prime; rescale 2 + 2(l-1) NTTs; relinearize/rotate/conjugate:
// rlwe key switching, l(l+1) + 3l + 2 NTTs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/keys.h"
#include "he/ckks/plaintext.h"
#include "he/rlwe/key_switch.h"

namespace leukocrypt::ckks {

class Evaluator {
 public:
  explicit Evaluator(ContextPtr ctx);
  const ContextPtr& context() const { return ctx_; }

  // Same level and scale.
  Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext negate(const Ciphertext& a) const;
  void negate_inplace(Ciphertext& a) const;

  // Plaintext at the ciphertext's level and scale.
  void add_plain_inplace(Ciphertext& ct, const Plaintext& pt) const;
  void sub_plain_inplace(Ciphertext& ct, const Plaintext& pt) const;
  // Plaintext at the ciphertext's level, any scale: the result's scale is the product.
  Ciphertext multiply_plain(const Ciphertext& ct, const Plaintext& pt) const;
  void multiply_plain_inplace(Ciphertext& ct, const Plaintext& pt) const;

  // Adds value to every slot (round(value * scale) on the constant coefficient, of any size below
  // half the level's modulus: scales beyond 2^62 included).
  void add_scalar_inplace(Ciphertext& ct, double value) const;
  // Multiplies every slot by value, encoded as round(value * scalar_scale); the result's scale is
  // ct.scale() * scalar_scale. scalar_scale 0 picks the last prime of the ciphertext's level, so
  // that the next rescale brings the scale back exactly to ct.scale() (needs level >= 2).
  // |value * scalar_scale| must stay below 2^62.
  void multiply_scalar_inplace(Ciphertext& ct, double value, double scalar_scale = 0) const;
  Ciphertext multiply_scalar(const Ciphertext& ct, double value, double scalar_scale = 0) const;
  // acc += value * ct (value encoded as for multiply_scalar): the linear-layer op, O(N*l) with one
  // Shoup multiply-add per coefficient. acc may be empty (it becomes value * ct); otherwise it
  // must be at ct's level with scale ct.scale() * scalar_scale (every term of a sum encoded the
  // same way), and at least ct's size.
  void multiply_scalar_add_inplace(Ciphertext& acc, const Ciphertext& ct, double value, double scalar_scale = 0) const;
  // A whole linear layer at once: out[o] = sum of weight[j] * *in[index[j]] over j in
  // [row_start[o], row_start[o + 1]), each weight encoded as multiply_scalar_add_inplace encodes it,
  // so out[o] holds the same residues as that chain of calls (a row without taps: zero at the
  // product scale). Inputs: one level, size and scale. Blocked over coefficients (each block of
  // every input is read from memory once for all outputs, sums accumulated lazily and reduced
  // once), on the global thread pool over (prime, block): the chain of calls is memory-bound.
  std::vector<Ciphertext> linear_layer(const std::vector<const Ciphertext*>& in, const std::uint32_t* row_start,
                                       const std::uint32_t* index, const float* weight, std::size_t n_out,
                                       double scalar_scale = 0) const;
  // Multiplies by an integer; the scale is unchanged.
  void multiply_integer_inplace(Ciphertext& ct, std::int64_t k) const;

  // Size-2 inputs at the same level (any scales); result size 3 with the product of the scales.
  // Throws when that scale would not fit below the modulus of the level.
  Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) const;
  Ciphertext square(const Ciphertext& a) const;
  void relinearize_inplace(Ciphertext& ct, const RelinKeys& rk) const;
  Ciphertext multiply_relin(const Ciphertext& a, const Ciphertext& b, const RelinKeys& rk) const;
  Ciphertext square_relin(const Ciphertext& a, const RelinKeys& rk) const;

  // Divides by the last prime q_{l-1} with rounding: level l -> l-1, scale / q_{l-1}.
  void rescale_inplace(Ciphertext& ct) const;
  Ciphertext rescale(const Ciphertext& ct) const;
  // Drops primes without dividing (level -> `level`, scale unchanged): to match a lower level.
  void mod_drop_to_inplace(Ciphertext& ct, std::size_t level) const;
  Plaintext mod_drop_to(const Plaintext& pt, std::size_t level) const;

  // Cyclic rotation of the N/2 slots left by step (right for step < 0); needs its Galois key
  // (create_rotation_keys). Size-2 input.
  Ciphertext rotate(const Ciphertext& ct, int step, const GaloisKeys& gk) const;
  // Complex conjugation of every slot.
  Ciphertext conjugate(const Ciphertext& ct, const GaloisKeys& gk) const;
  Ciphertext apply_galois(const Ciphertext& ct, std::uint32_t galois_elt, const GaloisKeys& gk) const;
  // Hoisting (rlwe/key_switch.h, Halevi-Shoup 2018): hoist(ct) decomposes ct's c1 once (size 2);
  // rotate_hoisted then rotates ct by each step without decomposing again (level x (level + 1)
  // NTTs saved per rotation). Same decryption and noise bound as rotate, not the same bits.
  rlwe::HoistedDigits hoist(const Ciphertext& ct) const;
  Ciphertext rotate_hoisted(const Ciphertext& ct, const rlwe::HoistedDigits& digits, int step,
                            const GaloisKeys& gk) const;

 private:
  void check_pair(const Ciphertext& a, const Ciphertext& b, const char* what) const;
  void check_plain_level(const Ciphertext& ct, const Plaintext& pt, const char* what) const;
  double product_scale(const Ciphertext& a, double scale_b, const char* what) const;
  void multiply_rows_by_constant(Ciphertext& ct, std::int64_t w) const;
  // round(value * scalar_scale) after the checks (scalar_scale resolved: 0 -> last prime).
  std::int64_t scalar_constant(const Ciphertext& ct, double value, double& scalar_scale, const char* what) const;
  ContextPtr ctx_;
};

}  // namespace leukocrypt::ckks
