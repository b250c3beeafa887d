// Exact base conversion: x = sum_i z_i * F/f_i - v*F with z_i = [x_i * (F/f_i)^-1]_{f_i} and
// v = round(sum_i z_i / f_i) (HPS 2018, Sec. 2.3; the sum is kept in 64.64 fixed point, so v is
// exact unless x is within ~k*2^-14 of +-F/2, which callers' size margins exclude).
#include "he/ring/base_converter.h"

#include <algorithm>

#include "common/aligned_buffer.h"
#include "common/error.h"
#include "he/kernels/eltwise.h"

namespace leukocrypt::he {

BaseConverter::BaseConverter(std::vector<Modulus> from, std::vector<Modulus> to)
    : from_(std::move(from)), to_(std::move(to)) {
  require(!from_.empty() && !to_.empty(), "BaseConverter: empty base");
  const std::size_t k = from_.size();
  inv_hat_.resize(k);
  frac_.resize(k);
  for (std::size_t i = 0; i < k; ++i) {
    std::uint64_t hat = 1;  // (F/f_i) mod f_i
    for (std::size_t m = 0; m < k; ++m)
      if (m != i) hat = mul_mod(hat, from_[m].value() % from_[i].value(), from_[i]);
    inv_hat_[i] = make_shoup(inv_mod(hat, from_[i]), from_[i].value());
    frac_[i] = static_cast<std::uint64_t>((static_cast<u128>(1) << 64) / from_[i].value());
  }
  hat_mod_to_.resize(to_.size() * k);
  f_mod_to_.resize(to_.size());
  for (std::size_t j = 0; j < to_.size(); ++j) {
    const Modulus& t = to_[j];
    std::uint64_t f = 1;
    for (std::size_t i = 0; i < k; ++i) {
      f = mul_mod(f, t.reduce(from_[i].value()), t);
      std::uint64_t hat = 1;
      for (std::size_t m = 0; m < k; ++m)
        if (m != i) hat = mul_mod(hat, t.reduce(from_[m].value()), t);
      hat_mod_to_[j * k + i] = hat;
    }
    f_mod_to_[j] = f;
  }
  std::uint64_t max_to = 0;
  for (const auto& t : to_) max_to = std::max(max_to, t.value());
  lazy64_ = static_cast<u128>(max_to) * (3 * k) < (static_cast<u128>(1) << 64);
  std::uint64_t max_from = 0, min_to = ~0ULL;
  for (const auto& f : from_) max_from = std::max(max_from, f.value());
  for (const auto& t : to_) min_to = std::min(min_to, t.value());
  kernels_ = k <= 64 && static_cast<u128>(max_from) < static_cast<u128>(min_to) * 4;
  for (std::size_t j = 0; j < to_.size(); ++j)
    neg_f_shoup_.push_back(make_shoup(to_[j].value() - f_mod_to_[j], to_[j].value()));
  hat_shoup_.resize(hat_mod_to_.size());
  for (std::size_t j = 0; j < to_.size(); ++j)
    for (std::size_t i = 0; i < k; ++i) hat_shoup_[j * k + i] = make_shoup(hat_mod_to_[j * k + i], to_[j].value());
  dot_ = kernels_ && k < 64 && max_from < (1ULL << 52);
  for (std::size_t j = 0; dot_ && j < to_.size(); ++j) {
    dot_w_.insert(dot_w_.end(), hat_shoup_.begin() + j * k, hat_shoup_.begin() + (j + 1) * k);
    dot_w_.push_back(neg_f_shoup_[j]);
  }
}

void BaseConverter::convert(const std::uint64_t* in, std::uint64_t* out, std::size_t n) const {
  if (kernels_) return convert_rows(in, out, n);
  constexpr std::size_t kBlock = 128;
  const std::size_t k = from_.size();
  std::uint64_t z[64 * kBlock];
  std::uint64_t v[kBlock];
  LC_DCHECK(k <= 64);
  for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
    const std::size_t bn = std::min(kBlock, n - b0);
    // 1. z_i = x_i * (F/f_i)^-1 mod f_i.
    for (std::size_t i = 0; i < k; ++i) {
      const std::uint64_t fi = from_[i].value();
      const std::uint64_t* x = in + i * n + b0;
      std::uint64_t* zi = z + i * kBlock;
      for (std::size_t c = 0; c < bn; ++c) zi[c] = mul_mod_shoup(x[c], inv_hat_[i], fi);
    }
    // 2. v = round(sum z_i / f_i), in 64.64 fixed point.
    for (std::size_t c = 0; c < bn; ++c) {
      u128 s = static_cast<u128>(1) << 63;
      for (std::size_t i = 0; i < k; ++i) s += static_cast<u128>(z[i * kBlock + c]) * frac_[i];
      v[c] = static_cast<std::uint64_t>(s >> 64);
    }
    // 3. out_j = sum z_i * (F/f_i) - v * F mod t_j. Fast path: Shoup products lazily in
    //    [0, 2 t_j), summed in 64 bits, one reduction.
    if (lazy64_) {
      for (std::size_t j = 0; j < to_.size(); ++j) {
        const Modulus& t = to_[j];
        const std::uint64_t tv = t.value();
        const ShoupOperand* hat = hat_shoup_.data() + j * k;
        const std::uint64_t neg_f = tv - f_mod_to_[j];
        std::uint64_t* o = out + j * n + b0;
        for (std::size_t c = 0; c < bn; ++c) o[c] = v[c] * neg_f;
        for (std::size_t i = 0; i < k; ++i) {
          const ShoupOperand h = hat[i];
          const std::uint64_t* zi = z + i * kBlock;
          for (std::size_t c = 0; c < bn; ++c) o[c] += mul_mod_shoup_lazy(zi[c], h, tv);
        }
        for (std::size_t c = 0; c < bn; ++c) o[c] = t.reduce(o[c]);
      }
      continue;
    }
    for (std::size_t j = 0; j < to_.size(); ++j) {
      const Modulus& t = to_[j];
      const std::uint64_t* hat = hat_mod_to_.data() + j * k;
      const std::uint64_t neg_f = t.value() - f_mod_to_[j];  // -F mod t_j (F mod t_j != 0)
      std::uint64_t* o = out + j * n + b0;
      for (std::size_t c = 0; c < bn; ++c) {
        u128 acc = static_cast<u128>(v[c]) * neg_f;
        for (std::size_t i = 0; i < k; ++i) acc += static_cast<u128>(z[i * kBlock + c]) * hat[i];
        o[c] = t.reduce128(static_cast<std::uint64_t>(acc >> 64), static_cast<std::uint64_t>(acc));
      }
    }
  }
}

// Row-wise variant on the element-wise kernels (SIMD when dispatched): z_i rows, then for each
// target t_j: out_j = (-F)*v + sum_i z_i * (F/f_i) by fused multiply-adds. Needs z_i < 4 t_j.
void BaseConverter::convert_rows(const std::uint64_t* in, std::uint64_t* out, std::size_t n) const {
  const std::size_t k = from_.size();
  static thread_local AlignedBuffer<std::uint64_t> scratch;
  if (scratch.size() < (k + 1) * n) scratch.reset((k + 1) * n);
  std::uint64_t* z = scratch.data();
  std::uint64_t* v = z + k * n;
  // 1. z_i = x_i * (F/f_i)^-1 mod f_i.
  for (std::size_t i = 0; i < k; ++i) eltwise_mul_scalar_mod(z + i * n, in + i * n, inv_hat_[i], n, from_[i]);
  // 2. v = round(sum z_i / f_i) in 64.64 fixed point.
  for (std::size_t c = 0; c < n; ++c) {
    u128 s = static_cast<u128>(1) << 63;
    for (std::size_t i = 0; i < k; ++i) s += static_cast<u128>(z[i * n + c]) * frac_[i];
    v[c] = static_cast<std::uint64_t>(s >> 64);
  }
  // 3. out_j = v * (-F) + sum_i z_i * (F/f_i) mod t_j.
  if (dot_) {
    // One dot product per target over the k+1 rows (z_0..z_{k-1}, v), coefficient-blocked so a
    // block of every row stays in L1 across all targets.
    constexpr std::size_t kBlock = 128;
    const std::uint64_t* rows[64];
    for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
      const std::size_t bn = std::min(kBlock, n - b0);
      for (std::size_t i = 0; i <= k; ++i) rows[i] = z + i * n + b0;
      for (std::size_t j = 0; j < to_.size(); ++j)
        eltwise_dot_scalar_mod(out + j * n + b0, rows, dot_w_.data() + j * (k + 1), k + 1, bn, to_[j]);
    }
    return;
  }
  for (std::size_t j = 0; j < to_.size(); ++j) {
    std::uint64_t* o = out + j * n;
    eltwise_mul_scalar_mod(o, v, neg_f_shoup_[j], n, to_[j]);
    for (std::size_t i = 0; i < k; ++i) eltwise_fma_scalar_mod(o, z + i * n, hat_shoup_[j * k + i], n, to_[j]);
  }
}

}  // namespace leukocrypt::he
