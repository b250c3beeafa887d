// CKKS encoder (see encoder.h).
#include "he/ckks/encoder.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "he/ckks/internal.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"

namespace leukocrypt::ckks {

Encoder::Encoder(ContextPtr ctx) : ctx_(std::move(ctx)) { require(ctx_ != nullptr, "Encoder: null context"); }

void Encoder::check_scale_level(double& scale, std::size_t& level) const {
  if (scale == 0) scale = ctx_->params().default_scale();
  if (level == 0) level = ctx_->params().max_level();
  require(std::isfinite(scale) && scale >= 1, "encode: scale " + std::to_string(scale) + " must be finite and >= 1");
  require(level >= 1 && level <= ctx_->params().max_level(),
          "encode: level " + std::to_string(level) + " not in [1, " + std::to_string(ctx_->params().max_level()) + "]");
}

Plaintext Encoder::from_coefficients(const std::complex<double>* v, double scale, std::size_t level) const {
  const std::size_t n = ctx_->n(), slots = ctx_->slots();
  // Coefficient k is Re v_k (k < N/2) or Im v_{k-N/2}; v viewed as doubles interleaves them.
  const double* d = reinterpret_cast<const double*>(v);
  auto coeff = [&](std::size_t k) { return (k < slots ? d[2 * k] : d[2 * (k - slots) + 1]) * scale; };
  double largest = 0;
  for (std::size_t k = 0; k < n; ++k) largest = std::max(largest, std::fabs(d[k]));
  largest *= scale;
  const double limit = ctx_->level(level).log2_q - 1;  // |round(scale * m)| < Q/2
  if (largest > 0 && std::log2(largest + 0.5) >= limit)
    throw InvalidArgument("encode: scale * value needs " + std::to_string(std::log2(largest)) +
                          " bits, the modulus at level " + std::to_string(level) + " holds " + std::to_string(limit) +
                          " (lower the scale or the values, or encode at a higher level)");
  Plaintext pt(ctx_->params_id(), n, level, scale);
  if (largest < 0x1p62) {
    // Magnitude and sign once, then one reduction pass per prime.
    std::uint64_t* mag = he::scratch(6, n);
    auto* negative = reinterpret_cast<std::uint8_t*>(he::scratch(7, n / 8 + 1));
    for (std::size_t k = 0; k < n; ++k) {
      const double x = coeff(k);
      negative[k] = x < 0;
      mag[k] = static_cast<std::uint64_t>(std::fabs(x) + 0.5);  // round half away from zero
    }
    for (std::size_t i = 0; i < level; ++i) {
      const std::uint64_t q = ctx_->modulus(i).value();
      std::uint64_t* row = pt.data(i);
      he::eltwise_reduce_mod(row, mag, n, ctx_->modulus(i));
      for (std::size_t k = 0; k < n; ++k) row[k] = negative[k] && row[k] ? q - row[k] : row[k];
    }
  } else {
    for (std::size_t k = 0; k < n; ++k) {
      const double x = std::nearbyint(coeff(k));
      for (std::size_t i = 0; i < level; ++i) pt.data(i)[k] = detail::integer_double_mod(x, ctx_->modulus(i));
    }
  }
  for (std::size_t i = 0; i < level; ++i) he::forward_ntt(pt.data(i), ctx_->ntt(i));
  return pt;
}

template <class T>
Plaintext Encoder::encode_values(std::span<const T> values, double scale, std::size_t level) const {
  check_scale_level(scale, level);
  const std::size_t slots = ctx_->slots();
  require(values.size() <= slots,
          "encode: " + std::to_string(values.size()) + " values exceed the " + std::to_string(slots) + " slots");
  std::vector<std::complex<double>> v(slots);
  for (std::size_t j = 0; j < values.size(); ++j) {
    v[j] = values[j];
    if (!std::isfinite(v[j].real()) || !std::isfinite(v[j].imag()))
      throw InvalidArgument("encode: value " + std::to_string(j) + " is not finite");
  }
  ctx_->fft().inverse(v.data());
  return from_coefficients(v.data(), scale, level);
}

Plaintext Encoder::encode_complex(std::span<const std::complex<double>> values, double scale, std::size_t level) const {
  return encode_values(values, scale, level);
}

Plaintext Encoder::encode(std::span<const double> values, double scale, std::size_t level) const {
  return encode_values(values, scale, level);
}

Plaintext Encoder::encode_constant(double value, double scale, std::size_t level) const {
  check_scale_level(scale, level);
  require(std::isfinite(value), "encode_constant: value is not finite");
  std::vector<std::complex<double>> v(ctx_->slots());
  v[0] = value;  // coefficient 0; every other coefficient 0
  return from_coefficients(v.data(), scale, level);
}

std::vector<std::complex<double>> Encoder::decode_complex(const Plaintext& pt) const {
  require(pt.params_id() == ctx_->params_id(), "decode: plaintext was made for other parameters (params id mismatch)");
  require(pt.n() == ctx_->n() && pt.level() >= 1 && pt.level() <= ctx_->params().max_level() && pt.scale() > 0,
          "decode: malformed plaintext (level " + std::to_string(pt.level()) + ")");
  const std::size_t n = ctx_->n(), l = pt.level(), slots = ctx_->slots();
  const LevelData& ld = ctx_->level(l);
  std::uint64_t* x = he::scratch(6, l * n);
  std::memcpy(x, pt.raw(), l * n * sizeof(std::uint64_t));
  for (std::size_t i = 0; i < l; ++i) he::inverse_ntt(x + i * n, ctx_->ntt(i));
  // Centred integer coefficients by CRT: sum_i y_i Q/q_i mod Q, y_i = [x_i (Q/q_i)^-1]_{q_i}; in
  // 128-bit arithmetic when the coefficient is certainly below 2^126 (LevelData), multi-precision
  // otherwise.
  std::vector<double> coeffs(n);
  const std::size_t limbs = ld.q_product.size() + 2;
  std::vector<std::uint64_t> acc(limbs);
  for (std::size_t k = 0; k < n; ++k) {
    if (l == 1) {
      const std::uint64_t q = ctx_->modulus(0).value(), v = x[k];
      coeffs[k] = v > q / 2 ? -static_cast<double>(q - v) : static_cast<double>(v);
      continue;
    }
    std::uint64_t y[64];
    double frac = 0;  // sum_i y_i / q_i in [0, l): x/Q = frac - wraps
    for (std::size_t i = 0; i < l; ++i) {
      y[i] = he::mul_mod_shoup(x[i * n + k], ld.q_hat_inv[i], ctx_->modulus(i).value());
      frac += static_cast<double>(y[i]) * ld.inv_q[i];
    }
    const auto wraps = static_cast<std::uint64_t>(frac + 0.5);
    if (std::fabs(frac - static_cast<double>(wraps)) < ld.fast_limit) {
      // |x| < 2^126: exact modulo 2^128.
      he::u128 acc128 = 0 - static_cast<he::u128>(wraps) * ld.q_low;
      for (std::size_t i = 0; i < l; ++i) acc128 += static_cast<he::u128>(y[i]) * ld.q_hat_low[i];
      const bool neg = static_cast<std::uint64_t>(acc128 >> 127) != 0;
      coeffs[k] = neg ? -static_cast<double>(0 - acc128) : static_cast<double>(acc128);
      continue;
    }
    std::fill(acc.begin(), acc.end(), 0);
    for (std::size_t i = 0; i < l; ++i) he::big_add_mul_word(acc.data(), limbs, ld.q_hat[i], y[i]);
    while (he::big_compare(acc.data(), limbs, ld.q_product) >= 0) he::big_sub(acc.data(), limbs, ld.q_product);
    const bool negative = he::big_compare(acc.data(), limbs, ld.q_half) > 0;
    if (negative) he::big_rsub(acc.data(), limbs, ld.q_product);
    double v = 0;
    for (std::size_t w = limbs; w-- > 0;) v = v * 0x1p64 + static_cast<double>(acc[w]);
    coeffs[k] = negative ? -v : v;
  }
  std::vector<std::complex<double>> out(slots);
  const double inv_scale = 1.0 / pt.scale();
  for (std::size_t j = 0; j < slots; ++j) out[j] = {coeffs[j] * inv_scale, coeffs[j + slots] * inv_scale};
  ctx_->fft().forward(out.data());
  return out;
}

std::vector<double> Encoder::decode(const Plaintext& pt) const {
  const auto c = decode_complex(pt);
  std::vector<double> out(c.size());
  for (std::size_t j = 0; j < c.size(); ++j) out[j] = c[j].real();
  return out;
}

}  // namespace leukocrypt::ckks
