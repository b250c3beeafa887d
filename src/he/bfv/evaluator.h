// Homomorphic operations on ciphertexts (lc_he: no secret material). Every method is const and
// thread-safe; scratch memory is thread-local, so one Evaluator can serve many threads. Binary
// ops check params id, level and size and throw InvalidArgument naming the mismatch.
//
// Cost (N = ring degree, l = level): add/sub/negate/scalar ops O(N*l), no NTT;
// multiply_plain 4l NTTs; multiply/square: HPS 2018 RNS multiplication over q and an auxiliary
// base P (~l+2 primes); relinearize/rotate: RNS gadget key switching, l*(l+1) NTTs.
#pragma once

#include <cstdint>

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/keys.h"
#include "he/bfv/plaintext.h"
#include "he/rlwe/key_switch.h"

namespace leukocrypt::bfv {

class Evaluator {
 public:
  explicit Evaluator(ContextPtr ctx);
  const ContextPtr& context() const { return ctx_; }

  Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext negate(const Ciphertext& a) const;
  void negate_inplace(Ciphertext& a) const;

  // ct * w (w reduced to its centred representative mod t; noise grows by |w|).
  Ciphertext multiply_scalar(const Ciphertext& ct, std::int64_t w) const;
  void multiply_scalar_inplace(Ciphertext& ct, std::int64_t w) const;
  // acc += w * ct (the CryptoNets hot op: O(N*l), no NTT). acc may be empty: it becomes w*ct.
  void multiply_scalar_add_inplace(Ciphertext& acc, const Ciphertext& ct, std::int64_t w) const;
  // Adds c (mod t) to every slot (a constant polynomial: touches one coefficient per prime).
  void add_scalar_inplace(Ciphertext& ct, std::int64_t c) const;

  void add_plain_inplace(Ciphertext& ct, const Plaintext& pt) const;
  void sub_plain_inplace(Ciphertext& ct, const Plaintext& pt) const;
  Ciphertext multiply_plain(const Ciphertext& ct, const Plaintext& pt) const;
  void multiply_plain_inplace(Ciphertext& ct, const Plaintext& pt) const;

  // Size-2 inputs; result has size 3 (relinearize next).
  Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) const;
  Ciphertext square(const Ciphertext& a) const;
  void relinearize_inplace(Ciphertext& ct, const RelinKeys& rk) const;
  // square + relinearize.
  Ciphertext square_relin(const Ciphertext& a, const RelinKeys& rk) const;

  // Cyclic rotation of both slot rows by `step` (left for step > 0); needs the Galois key.
  Ciphertext rotate_rows(const Ciphertext& ct, int step, const GaloisKeys& gk) const;
  // Swaps the two slot rows.
  Ciphertext rotate_columns(const Ciphertext& ct, const GaloisKeys& gk) const;
  Ciphertext apply_galois(const Ciphertext& ct, std::uint32_t galois_elt, const GaloisKeys& gk) const;

  // Hoisted rotations (rlwe/key_switch.h): many rotations of one ciphertext share one
  // decomposition. hoist(ct) decomposes ct's c1 once (size 2); rotate_rows_hoisted_ntt then
  // rotates by `step` from ct_ntt (ct with every row forward-transformed, see to_ntt) at 2 + 2l
  // NTTs instead of l(l+1) + 2(l+1), returning the rotation with every row in the NTT domain
  // (from_ntt brings it back). Decrypts to the same slots as rotate_rows (not the same bits).
  rlwe::HoistedDigits hoist(const Ciphertext& ct) const;
  Ciphertext rotate_rows_hoisted_ntt(const Ciphertext& ct_ntt, const rlwe::HoistedDigits& digits, int step,
                                     const GaloisKeys& gk) const;
  // rotate_rows on and to the NTT domain (ct_ntt as after to_ntt): c0 is permuted there, only c1
  // goes back to coefficients for its decomposition, and digit i's transform mod q_i is its own
  // permuted row: l inverse + l^2 forward NTTs instead of 2l inverse + l(l+1) forward + 2l
  // inverse for from_ntt + rotate_rows. Used for the giant steps of the latency layout, whose sums
  // are formed in the NTT domain. Decrypts to the same slots as rotate_rows.
  Ciphertext rotate_rows_ntt(const Ciphertext& ct_ntt, int step, const GaloisKeys& gk) const;
  // A sum of rotate_rows_ntt results with one division by p (rlwe::KeySwitchSum): each
  // add_rotation_ntt adds c0(X^g) to sum (size 2, ct_ntt's level, NTT domain) and the key switch's
  // products to ks (made for that level); finish_rotation_sum then adds ks's switched pair to sum.
  // The sum decrypts to the same slots as the rotate_rows_ntt results added up, with no more noise.
  void add_rotation_ntt(const Ciphertext& ct_ntt, int step, const GaloisKeys& gk, Ciphertext& sum,
                        rlwe::KeySwitchSum& ks) const;
  void finish_rotation_sum(Ciphertext& sum, const rlwe::KeySwitchSum& ks) const;
  // Every row of ct to the NTT domain and back (the ciphertext type does not record the domain:
  // only hoisted rotations and plaintext products in that domain read such a ciphertext).
  void to_ntt_inplace(Ciphertext& ct) const;
  void from_ntt_inplace(Ciphertext& ct) const;

  // Drops the last ciphertext prime (divide-and-round by q_{l-1}); level must be >= 2.
  void mod_switch_to_next_inplace(Ciphertext& ct) const;
  // Drops primes until ct.level() == level (1 <= level <= ct.level()).
  void mod_switch_to_inplace(Ciphertext& ct, std::size_t level) const;

 private:
  void check_ct(const Ciphertext& ct, const char* what) const;
  void check_pair(const Ciphertext& a, const Ciphertext& b) const;
  void check_plain(const Plaintext& pt) const;
  void add_scaled_plain(Ciphertext& ct, const Plaintext& pt, bool subtract) const;
  ContextPtr ctx_;
};

}  // namespace leukocrypt::bfv
