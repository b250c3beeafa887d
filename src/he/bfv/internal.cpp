// Engine-internal helpers: plaintext checks and scaling round(Q*m/t).
#include "he/bfv/internal.h"

#include "common/error.h"
#include "he/ring/rns_poly.h"

namespace leukocrypt::bfv::detail {

void check_plaintext(const Context& ctx, const Plaintext& pt) {
  require(pt.params_id() == ctx.params_id(), "plaintext was made for other parameters (params id mismatch)");
  require(pt.n() == ctx.n(), "plaintext has " + std::to_string(pt.n()) + " coefficients, expected N=" +
                                 std::to_string(ctx.n()));
}

void add_scaled_plain(const Context& ctx, const Plaintext& pt, std::uint64_t* c0, std::size_t level,
                      bool subtract) {
  const std::size_t n = ctx.n();
  const LevelData& ld = ctx.level(level);
  const Modulus& t = ctx.plain_modulus();
  const std::uint64_t tv = t.value();
  // round(Q*m/t) = delta*m + floor((r*m + floor(t/2)) / t), r = Q mod t (SEAL's scaling variant).
  // The quotient is an exact division: (x - x mod t) * t^-1 mod 2^64 for odd t.
  std::uint64_t t_inv64 = 0;
  if (tv & 1) {
    t_inv64 = tv;  // Newton iteration for the inverse mod 2^64
    for (int i = 0; i < 5; ++i) t_inv64 *= 2 - tv * t_inv64;
  }
  std::uint64_t* fix = he::scratch(7, n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t m = pt[k];
    if (m >= tv)
      throw InvalidArgument("plaintext coefficient " + std::to_string(k) + " = " + std::to_string(m) + " is not < t");
    he::u128 x = static_cast<he::u128>(ld.q_mod_t) * m + (tv >> 1);
    if (tv & 1) {
      std::uint64_t rem = t.reduce128(static_cast<std::uint64_t>(x >> 64), static_cast<std::uint64_t>(x));
      fix[k] = (static_cast<std::uint64_t>(x) - rem) * t_inv64;
    } else {
      fix[k] = static_cast<std::uint64_t>(x / tv);
    }
  }
  for (std::size_t i = 0; i < level; ++i) {
    const Modulus& qi = ctx.modulus(i);
    const std::uint64_t q = qi.value();
    const ShoupOperand delta = ld.delta[i];
    std::uint64_t* row = c0 + i * n;
    for (std::size_t k = 0; k < n; ++k) {
      std::uint64_t v = he::add_mod(he::mul_mod_shoup(pt[k], delta, q), qi.reduce(fix[k]), q);
      row[k] = subtract ? he::sub_mod(row[k], v, q) : he::add_mod(row[k], v, q);
    }
  }
}

}  // namespace leukocrypt::bfv::detail
