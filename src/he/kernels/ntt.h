// Negacyclic number-theoretic transform over Z_q[X]/(X^N + 1): precomputed tables and the
// forward (Cooley-Tukey, natural -> bit-reversed) and inverse (Gentleman-Sande, bit-reversed ->
// natural) transforms with Harvey's lazy butterflies. Element-wise products of two forward
// transforms are the transform of the negacyclic convolution.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/aligned_buffer.h"
#include "he/math/modulus.h"

namespace leukocrypt::he {

// Immutable, shareable precomputation for one (n, q): the powers psi^bitrev(i) and
// psi^-bitrev(i) of a primitive 2n-th root psi, in bit-reversed order, with Shoup quotients.
class NttTables {
 public:
  // n a power of two >= 8, q prime with q = 1 (mod 2n); psi = the minimal primitive 2n-th root.
  // Throws InvalidArgument otherwise.
  NttTables(std::size_t n, const Modulus& q);

  std::size_t n() const { return n_; }
  int log_n() const { return log_n_; }
  const Modulus& modulus() const { return modulus_; }
  std::uint64_t psi() const { return psi_; }

  // psi^bitrev(i, log n) and psi^-bitrev(i, log n), i in [0, n).
  ShoupOperand root(std::size_t i) const { return {roots_[i], root_quotients_[i]}; }
  ShoupOperand inv_root(std::size_t i) const { return {inv_roots_[i], inv_root_quotients_[i]}; }
  ShoupOperand inv_n() const { return inv_n_; }
  // n^-1 * psi^-bitrev(1): the last inverse stage's twiddle with the 1/n scaling folded in.
  ShoupOperand inv_n_root() const { return inv_n_root_; }

  // Structure-of-arrays views for the SIMD kernels.
  const std::uint64_t* root_values() const { return roots_.data(); }
  const std::uint64_t* root_quotients() const { return root_quotients_.data(); }
  const std::uint64_t* inv_root_values() const { return inv_roots_.data(); }
  const std::uint64_t* inv_root_quotients() const { return inv_root_quotients_.data(); }
  // floor(w * 2^52 / q) for every root, for the 52-bit AVX-512 IFMA kernels; empty unless
  // q < 2^50.
  bool has_ifma_quotients() const { return !root_quotients52_.empty(); }
  const std::uint64_t* root_quotients52() const { return root_quotients52_.data(); }
  const std::uint64_t* inv_root_quotients52() const { return inv_root_quotients52_.data(); }
  // The roots as doubles and w / q rounded to double, for the AVX2 floating-point kernels;
  // empty unless q < 2^50 (then every lazy value < 4q < 2^52 is exact in a double).
  bool has_fp_tables() const { return !root_fp_.empty(); }
  const double* root_fp() const { return root_fp_.data(); }
  const double* root_fp_quotients() const { return root_fp_quotients_.data(); }
  const double* inv_root_fp() const { return inv_root_fp_.data(); }
  const double* inv_root_fp_quotients() const { return inv_root_fp_quotients_.data(); }

 private:
  std::size_t n_;
  int log_n_;
  Modulus modulus_;
  std::uint64_t psi_;
  AlignedBuffer<std::uint64_t> roots_, root_quotients_, inv_roots_, inv_root_quotients_;
  AlignedBuffer<std::uint64_t> root_quotients52_, inv_root_quotients52_;
  AlignedBuffer<double> root_fp_, root_fp_quotients_, inv_root_fp_, inv_root_fp_quotients_;
  ShoupOperand inv_n_, inv_n_root_;
};

// Largest modulus bit count for which the IFMA (52-bit) and AVX2 (double) kernels apply: lazy
// values in [0, 4q) must fit in 52 bits.
inline constexpr int kIfmaMaxModulusBits = 50;

// Forward negacyclic NTT in place: input in [0, q), output in [0, q), bit-reversed order.
void forward_ntt(std::uint64_t* a, const NttTables& tables);
// Same transform, lazy: input in [0, 4q), output in [0, 4q) (congruent, not reduced).
void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables);
// Inverse negacyclic NTT in place, 1/n scaling included: input in [0, 2q) bit-reversed,
// output in [0, q) natural order.
void inverse_ntt(std::uint64_t* a, const NttTables& tables);

// The portable reference implementations (always available; used by differential tests).
namespace scalar {
void forward_ntt(std::uint64_t* a, const NttTables& tables);
void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables);
void inverse_ntt(std::uint64_t* a, const NttTables& tables);
}  // namespace scalar

}  // namespace leukocrypt::he
