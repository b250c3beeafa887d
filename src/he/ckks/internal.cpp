// Engine-internal checks and plaintext addition (see internal.h).
#include "he/ckks/internal.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/math/modulus.h"

namespace leukocrypt::ckks::detail {

void check_plaintext(const Context& ctx, const Plaintext& pt, const char* what) {
  if (pt.params_id() != ctx.params_id())
    throw InvalidArgument(std::string(what) + ": plaintext was made for other parameters (params id mismatch)");
  if (pt.n() != ctx.n() || pt.level() < 1 || pt.level() > ctx.max_level() || !std::isfinite(pt.scale()) ||
      pt.scale() <= 0)
    throw InvalidArgument(std::string(what) + ": malformed plaintext (N " + std::to_string(pt.n()) + ", level " +
                          std::to_string(pt.level()) + ", scale " + std::to_string(pt.scale()) + ")");
}

void check_ciphertext(const Context& ctx, const Ciphertext& ct, const char* what) {
  if (ct.params_id() != ctx.params_id())
    throw InvalidArgument(std::string(what) + ": ciphertext was made for other parameters (params id mismatch)");
  if (ct.n() != ctx.n() || ct.level() < 1 || ct.level() > ctx.max_level() || ct.size() < 2 || ct.size() > 3 ||
      !std::isfinite(ct.scale()) || ct.scale() <= 0)
    throw InvalidArgument(std::string(what) + ": malformed ciphertext (N " + std::to_string(ct.n()) + ", level " +
                          std::to_string(ct.level()) + ", size " + std::to_string(ct.size()) + ", scale " +
                          std::to_string(ct.scale()) + ")");
}

bool scales_match(double a, double b) { return std::fabs(a - b) <= kScaleTolerance * std::max(a, b); }

void require_same_scale(double a, double b, const char* what) {
  if (scales_match(a, b)) return;
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s: different scales (2^%.6f vs 2^%.6f); rescale, or encode the plaintext at the "
                "ciphertext's scale", what, std::log2(a), std::log2(b));
  throw InvalidArgument(buf);
}

std::uint64_t integer_double_mod(double x, const Modulus& q) {
  int exp = 0;
  const double frac = std::frexp(std::fabs(x), &exp);  // |x| = frac * 2^exp, frac in [0.5, 1)
  const std::uint64_t r =
      exp <= 53 ? q.reduce(static_cast<std::uint64_t>(std::fabs(x)))
                : he::mul_mod(q.reduce(static_cast<std::uint64_t>(std::ldexp(frac, 53))),
                              he::pow_mod(2, static_cast<std::uint64_t>(exp - 53), q), q);
  return x < 0 ? he::neg_mod(r, q.value()) : r;
}

void add_plain_rows(const Context& ctx, const Plaintext& pt, std::uint64_t* c0, std::size_t level, bool subtract) {
  const std::size_t n = ctx.n();
  for (std::size_t i = 0; i < level; ++i) {
    std::uint64_t* row = c0 + i * n;
    if (subtract) he::eltwise_sub_mod(row, row, pt.data(i), n, ctx.modulus(i));
    else he::eltwise_add_mod(row, row, pt.data(i), n, ctx.modulus(i));
  }
}

}  // namespace leukocrypt::ckks::detail
