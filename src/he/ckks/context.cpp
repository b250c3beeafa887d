// CKKS context precomputation (see context.h).
#include "he/ckks/context.h"

#include <algorithm>
#include <cmath>

namespace leukocrypt::ckks {
namespace {

// Product of the first `count` primes except index skip, reduced mod m.
std::uint64_t product_mod(const Context& ctx, std::size_t count, std::size_t skip, const Modulus& m) {
  std::uint64_t r = 1 % m.value();
  for (std::size_t i = 0; i < count; ++i)
    if (i != skip) r = he::mul_mod(r, m.reduce(ctx.modulus(i).value()), m);
  return r;
}

}  // namespace

std::shared_ptr<const Context> Context::create(const Params& params) {
  return std::make_shared<const Context>(params);
}

Context::Context(const Params& params)
    : RingContext(params.id(), params.n(), params.q(), {params.special_prime()}), params_(params), fft_(params.n()) {
  for (std::size_t l = 1; l <= params.max_level(); ++l) {
    LevelData d;
    d.level = l;
    d.log2_q = params.log2_q(l);
    if (l >= 2) {
      const std::uint64_t last = modulus(l - 1).value(), h = (last - 1) / 2;
      for (std::size_t j = 0; j + 1 < l; ++j) {
        const Modulus& q = modulus(j);
        const std::uint64_t inv = he::inv_mod(q.reduce(last), q);
        d.inv_last.push_back(he::make_shoup(inv, q.value()));
        d.neg_half_last.push_back(he::neg_mod(q.reduce(h), q.value()));
      }
    }
    d.q_product = {1};
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& qi = modulus(i);
      d.q_hat_inv.push_back(he::make_shoup(he::inv_mod(product_mod(*this, l, i, qi), qi), qi.value()));
      he::BigUint hat{1};
      for (std::size_t m = 0; m < l; ++m)
        if (m != i) he::big_mul_word(hat, modulus(m).value());
      d.q_hat.push_back(std::move(hat));
      he::big_mul_word(d.q_product, qi.value());
    }
    auto low128 = [](const he::BigUint& b) {
      return static_cast<he::u128>(b[0]) | (b.size() > 1 ? static_cast<he::u128>(b[1]) << 64 : 0);
    };
    for (std::size_t i = 0; i < l; ++i) {
      d.q_hat_low.push_back(low128(d.q_hat[i]));
      d.inv_q.push_back(1.0 / static_cast<double>(modulus(i).value()));
    }
    d.q_low = low128(d.q_product);
    // |x| < 2^126 when |x/Q| + err < 2^126 / Q; err = l * 2^-50 bounds the error of the double sum
    // of l terms below 1 (each y_i / q_i within 2^-52 relative).
    const double err = static_cast<double>(l) * 0x1p-50;
    d.fast_limit = std::max(0.0, std::exp2(126.0 - d.log2_q) - err);
    d.q_half = d.q_product;
    for (std::size_t i = 0; i < d.q_half.size(); ++i)
      d.q_half[i] = (d.q_half[i] >> 1) | (i + 1 < d.q_half.size() ? d.q_half[i + 1] << 63 : 0);
    levels_.push_back(std::move(d));
  }
}

}  // namespace leukocrypt::ckks
