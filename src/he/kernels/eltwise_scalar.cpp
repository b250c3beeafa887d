// Portable reference element-wise kernels.
#include "he/kernels/eltwise.h"

#include <algorithm>

namespace leukocrypt::he::scalar {

void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  for (std::size_t i = 0; i < n; ++i) out[i] = add_mod(a[i], b[i], qv);
}

void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  for (std::size_t i = 0; i < n; ++i) out[i] = sub_mod(a[i], b[i], qv);
}

void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  for (std::size_t i = 0; i < n; ++i) out[i] = neg_mod(a[i], qv);
}

void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  for (std::size_t i = 0; i < n; ++i) out[i] = mul_mod(a[i], b[i], q);
}

void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  const ShoupOperand wl = w;
  for (std::size_t i = 0; i < n; ++i) out[i] = mul_mod_shoup(a[i], wl, qv);
}

void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  const ShoupOperand wl = w;
  for (std::size_t i = 0; i < n; ++i) acc[i] = add_mod(acc[i], mul_mod_shoup(a[i], wl, qv), qv);
}

void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,
                            std::size_t n, const Modulus& q) {
  const std::uint64_t qv = q.value();
  for (std::size_t i = 0; i < n; ++i) out[i] = add_mod(a[i], c, qv);
}

void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  for (std::size_t i = 0; i < n; ++i) out[i] = q.reduce(a[i]);
}

void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n, const Modulus& q) {
  for (std::size_t i = 0; i < n; ++i) {
    // acc < q and a * b < q^2, so the 128-bit sum cannot overflow.
    u128 p = static_cast<u128>(a[i]) * b[i] + acc[i];
    acc[i] = q.reduce128(static_cast<std::uint64_t>(p >> 64), static_cast<std::uint64_t>(p));
  }
}

void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q) {
  // Each product is below 2^52 * 2^61 = 2^113, so k <= 64 of them fit 128 bits.
  for (std::size_t c = 0; c < n; ++c) {
    u128 s = 0;
    for (std::size_t i = 0; i < k; ++i) s += static_cast<u128>(rows[i][c]) * w[i].value;
    out[c] = q.reduce128(static_cast<std::uint64_t>(s >> 64), static_cast<std::uint64_t>(s));
  }
}

void eltwise_matmul_mod(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                        std::size_t m, std::size_t k, std::size_t n, const Modulus& q) {
  // Products are below 2^(2b); 2^(126 - 2b) of them fit 128 bits with room (b <= 61 bits: 16 terms).
  const int b = q.bit_count();
  const std::size_t chunk = std::size_t{1} << std::min(20, 126 - 2 * b);
  for (std::size_t o = 0; o < m; ++o) {
    const std::uint64_t* wo = w + o * k;
    for (std::size_t c = 0; c < n; ++c) {
      std::uint64_t r = 0;
      for (std::size_t j0 = 0; j0 < k; j0 += chunk) {
        u128 s = r;
        for (std::size_t j = j0; j < std::min(k, j0 + chunk); ++j) s += static_cast<u128>(wo[j]) * rows[j][c];
        r = q.reduce128(static_cast<std::uint64_t>(s >> 64), static_cast<std::uint64_t>(s));
      }
      out[o][c] = r;
    }
  }
}

void eltwise_fma_lazy_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                          std::size_t n, const Modulus& q) {
  for (std::size_t i = 0; i < n; ++i) acc[i] += mul_mod_shoup(a[i], w, q.value());
}

void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q) {
  // Unsigned wrap-around is never reached: the caller bounds the sums (lazy_mac_fits).
  if (w >= 0) {
    const std::uint64_t a = static_cast<std::uint64_t>(w);
    for (std::size_t i = 0; i < n; ++i) acc[i] += a * x[i];
  } else {
    const std::uint64_t a = 0 - static_cast<std::uint64_t>(w), qv = q.value();
    for (std::size_t i = 0; i < n; ++i) acc[i] += a * (qv - x[i]);
  }
}

}  // namespace leukocrypt::he::scalar
