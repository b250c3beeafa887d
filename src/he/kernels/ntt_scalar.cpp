// Portable reference NTT: Harvey's lazy butterflies (D. Harvey, "Faster arithmetic for
// number-theoretic transforms", J. Symbolic Computation 60, 2014), in the loop order of
// SEAL/HEXL. Values stay in [0, 4q) (forward) or [0, 2q) (inverse) between stages.
#include "he/kernels/ntt.h"

namespace leukocrypt::he::scalar {

void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables) {
  const std::size_t n = tables.n();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  const std::uint64_t* w_val = tables.root_values();
  const std::uint64_t* w_quo = tables.root_quotients();
  // Stage with m blocks of 2t elements; block i uses the twiddle psi^bitrev(m + i).
  for (std::size_t m = 1, t = n / 2; m < n; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const ShoupOperand w{w_val[m + i], w_quo[m + i]};
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        // Harvey 2014, Algorithm 4 (Cooley-Tukey butterfly), inputs in [0, 4q):
        // 1. X' = X mod 2q, in [0, 2q).
        std::uint64_t xv = x[j] >= two_q ? x[j] - two_q : x[j];
        // 2. T = W * Y mod q, lazily in [0, 2q) (Shoup).
        std::uint64_t tv = mul_mod_shoup_lazy(y[j], w, q);
        // 3. X + T and X - T + 2q, both in [0, 4q).
        x[j] = xv + tv;
        y[j] = xv - tv + two_q;
      }
    }
  }
}

void forward_ntt(std::uint64_t* a, const NttTables& tables) {
  scalar::forward_ntt_lazy(a, tables);
  const std::size_t n = tables.n();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v = a[i] >= two_q ? a[i] - two_q : a[i];
    a[i] = v >= q ? v - q : v;
  }
}

void inverse_ntt(std::uint64_t* a, const NttTables& tables) {
  const std::size_t n = tables.n();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  const std::uint64_t* w_val = tables.inv_root_values();
  const std::uint64_t* w_quo = tables.inv_root_quotients();
  // All stages but the last: m blocks of 2t elements, block i uses psi^-bitrev(m + i).
  std::size_t t = 1;
  for (std::size_t m = n / 2; m > 1; m >>= 1, t <<= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const ShoupOperand w{w_val[m + i], w_quo[m + i]};
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        // Harvey 2014, Gentleman-Sande butterfly, inputs in [0, 2q):
        // 1. X + Y reduced to [0, 2q).
        std::uint64_t s = x[j] + y[j];
        // 2. (X - Y + 2q) * W lazily in [0, 2q).
        std::uint64_t d = x[j] - y[j] + two_q;
        x[j] = s >= two_q ? s - two_q : s;
        y[j] = mul_mod_shoup_lazy(d, w, q);
      }
    }
  }
  // Last stage (m = 1, t = n/2) with the 1/n scaling folded into both outputs, fully reduced.
  const ShoupOperand inv_n = tables.inv_n();
  const ShoupOperand inv_n_w = tables.inv_n_root();
  std::uint64_t* x = a;
  std::uint64_t* y = a + t;
  for (std::size_t j = 0; j < t; ++j) {
    std::uint64_t s = x[j] + y[j];
    std::uint64_t d = x[j] - y[j] + two_q;
    x[j] = mul_mod_shoup(s, inv_n, q);
    y[j] = mul_mod_shoup(d, inv_n_w, q);
  }
}

}  // namespace leukocrypt::he::scalar
