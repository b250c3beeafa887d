// NttTables construction: roots of unity in bit-reversed order with their Shoup quotients.
#include <bit>
#include <string>

#include "common/error.h"
#include "he/kernels/ntt.h"
#include "he/math/primes.h"

namespace leukocrypt::he {
namespace {

std::size_t bit_reverse(std::size_t x, int bits) {
  std::size_t r = 0;
  for (int i = 0; i < bits; ++i, x >>= 1) r = (r << 1) | (x & 1);
  return r;
}

}  // namespace

NttTables::NttTables(std::size_t n, const Modulus& q) : n_(n), log_n_(0), modulus_(q), psi_(0) {
  require(n >= 8 && std::has_single_bit(n), "NTT size " + std::to_string(n) +
                                                " must be a power of two >= 8");
  require((q.value() - 1) % (2 * n) == 0, "modulus " + std::to_string(q.value()) +
                                              " is not 1 mod 2n = " + std::to_string(2 * n));
  log_n_ = std::countr_zero(n);
  psi_ = minimal_primitive_root(2 * n, q);
  const std::uint64_t qv = q.value();
  const std::uint64_t inv_psi = inv_mod(psi_, q);

  roots_.reset(n); root_quotients_.reset(n);
  inv_roots_.reset(n); inv_root_quotients_.reset(n);
  std::uint64_t power = 1, inv_power = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = bit_reverse(i, log_n_);
    ShoupOperand w = make_shoup(power, qv), w_inv = make_shoup(inv_power, qv);
    roots_[j] = w.value; root_quotients_[j] = w.quotient;
    inv_roots_[j] = w_inv.value; inv_root_quotients_[j] = w_inv.quotient;
    power = mul_mod(power, psi_, q);
    inv_power = mul_mod(inv_power, inv_psi, q);
  }
  const std::uint64_t n_inv = inv_mod(n, q);
  inv_n_ = make_shoup(n_inv, qv);
  inv_n_root_ = make_shoup(mul_mod(n_inv, inv_roots_[1], q), qv);

  if (q.bit_count() <= kIfmaMaxModulusBits) {
    root_quotients52_.reset(n); inv_root_quotients52_.reset(n);
    for (std::size_t i = 0; i < n; ++i) {
      root_quotients52_[i] = static_cast<std::uint64_t>((static_cast<u128>(roots_[i]) << 52) / qv);
      inv_root_quotients52_[i] =
          static_cast<std::uint64_t>((static_cast<u128>(inv_roots_[i]) << 52) / qv);
    }
    // Exact conversions (< 2^53); IEEE division rounds w / q correctly (relative error 2^-53).
    root_fp_.reset(n); root_fp_quotients_.reset(n);
    inv_root_fp_.reset(n); inv_root_fp_quotients_.reset(n);
    const auto qd = static_cast<double>(qv);
    for (std::size_t i = 0; i < n; ++i) {
      root_fp_[i] = static_cast<double>(roots_[i]);
      root_fp_quotients_[i] = root_fp_[i] / qd;
      inv_root_fp_[i] = static_cast<double>(inv_roots_[i]);
      inv_root_fp_quotients_[i] = inv_root_fp_[i] / qd;
    }
  }
}

}  // namespace leukocrypt::he
