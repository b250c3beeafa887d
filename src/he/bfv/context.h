// Context: everything precomputed once from Params. The ring part (NTT tables for every prime,
// key-switching constants) is the scheme-neutral rlwe::RingContext it derives from; this adds
// encoding and decoding constants and the per-level HPS multiplication and modulus-switching
// constants. Immutable after construction and shared by all objects through
// std::shared_ptr<const Context>, so it is safe to use from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "he/bfv/params.h"
#include "he/kernels/ntt.h"
#include "he/math/modulus.h"
#include "he/ring/base_converter.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::bfv {

using he::Modulus;
using he::NttTables;
using he::ShoupOperand;

// Constants for ciphertexts at one level l (primes q_0..q_{l-1} present). Internal to the engine.
struct LevelData {
  std::size_t level = 0;
  double log2_q = 0;
  // Encoding: round(Q*m/t) = delta*m + round(q_mod_t*m/t) (delta = floor(Q/t)).
  std::vector<ShoupOperand> delta;  // floor(Q/t) mod q_i
  std::uint64_t q_mod_t = 0;        // Q mod t
  // Decoding: round(t*x/Q) mod t = sum x_i*dec_int_i + round(sum x_i*dec_frac_i/2^64) mod t.
  std::vector<std::uint64_t> dec_int;
  std::vector<std::uint64_t> dec_frac;
  // Modulus switching to level l-1: q_{l-1}^-1 mod q_j and q_{l-1} mod q_j, j < l-1.
  std::vector<ShoupOperand> inv_last;
  std::vector<std::uint64_t> last_mod;
  // HPS multiplication: auxiliary primes P = context aux_moduli()[0..aux_count).
  std::size_t aux_count = 0;
  he::BaseConverter q_to_p, p_to_q;
  std::vector<std::uint64_t> hps_frac;       // frac(t*P*w_i/q_i) * 2^64, i < l
  std::vector<ShoupOperand> hps_omega;       // [j*l + i] = floor(t*P*w_i/q_i) mod p_j
  std::vector<ShoupOperand> hps_lambda;      // t * Q^-1 mod p_j
  bool hps_kernels = false;                  // every q_i < 4 p_j: scale with the fma kernels
  // hps_kernels and l + 3 <= 64: one dot product per p_j over (c_0..c_{l-1}, round_lo,
  // round_hi, c_{l+j}) with weights [j*(l+3) + i] = (omega_ij, 1, 2^32, lambda_j) mod p_j.
  bool hps_dot = false;
  std::vector<ShoupOperand> hps_dot_w;
  // Noise budget: (Q/q_i)^-1 mod q_i and Q/q_i, Q as little-endian 64-bit limbs.
  std::vector<ShoupOperand> q_hat_inv;
  std::vector<std::vector<std::uint64_t>> q_hat;
  std::vector<std::uint64_t> q_product;
};

class Context : public rlwe::RingContext {
 public:
  static std::shared_ptr<const Context> create(const Params& params);
  explicit Context(const Params& params);  // prefer create()

  const Params& params() const { return params_; }
  // params_id(), n(), max_level(), modulus(i), ntt(i), special_index(), special_mod_q(),
  // special_inv_mod_q(): see rlwe::RingContext.

  // Auxiliary primes for HPS multiplication (disjoint from q, p, t).
  const Modulus& aux_modulus(std::size_t j) const { return aux_moduli_[j]; }
  const NttTables& aux_ntt(std::size_t j) const { return *aux_ntt_[j]; }
  std::size_t aux_size() const { return aux_moduli_.size(); }

  const Modulus& plain_modulus() const { return t_; }
  // NTT tables mod t; nullptr when t does not support batching.
  const NttTables* plain_ntt() const { return t_ntt_.get(); }

  // level in [1, L].
  const LevelData& level(std::size_t level) const { return levels_[level - 1]; }

 private:
  Params params_;
  std::vector<Modulus> aux_moduli_;
  std::vector<std::unique_ptr<NttTables>> aux_ntt_;
  Modulus t_;
  std::unique_ptr<NttTables> t_ntt_;
  std::vector<LevelData> levels_;
};

using ContextPtr = std::shared_ptr<const Context>;

}  // namespace leukocrypt::bfv
