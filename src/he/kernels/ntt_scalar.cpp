// Portable reference NTT: Harvey's lazy butterflies (D. Harvey, "Faster arithmetic for
// number-theoretic transforms", J. Symbolic Computation 60, 2014), in the loop order of
// SEAL/HEXL. Values stay in [0, 4q) (forward) or [0, 2q) (inverse) between stages.
#include "he/kernels/ntt.h"

namespace leukocrypt::he::scalar {

namespace {

// Harvey 2014, Algorithm 4 (Cooley-Tukey butterfly), x, y in [0, 4q) -> [0, 4q).
inline void forward_butterfly(std::uint64_t& x, std::uint64_t& y, const ShoupOperand& w,
                              std::uint64_t q, std::uint64_t two_q) {
  std::uint64_t xv = x >= two_q ? x - two_q : x;       // 1. x mod 2q, in [0, 2q)
  std::uint64_t tv = mul_mod_shoup_lazy(y, w, q);      // 2. w * y mod q, lazily in [0, 2q)
  x = xv + tv;                                         // 3. x + t and x - t + 2q, in [0, 4q)
  y = xv - tv + two_q;
}

// Gentleman-Sande butterfly, x, y in [0, 2q) -> x + y, (x - y) * w in [0, 2q).
inline void inverse_butterfly(std::uint64_t& x, std::uint64_t& y, const ShoupOperand& w,
                              std::uint64_t q, std::uint64_t two_q) {
  std::uint64_t s = x + y;                             // 1. x + y reduced to [0, 2q)
  std::uint64_t d = x - y + two_q;                     // 2. (x - y + 2q) * w lazily in [0, 2q)
  x = s >= two_q ? s - two_q : s;
  y = mul_mod_shoup_lazy(d, w, q);
}

}  // namespace

void forward_ntt_lazy(std::uint64_t* a, const NttTables& tables) {
  const std::size_t n = tables.n();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  const std::uint64_t* w_val = tables.root_values();
  const std::uint64_t* w_quo = tables.root_quotients();
  // Stage with m blocks of 2t elements; block i uses the twiddle psi^bitrev(m + i).
  std::size_t m = 1;
  for (std::size_t t = n / 2; t > 1; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const ShoupOperand w{w_val[m + i], w_quo[m + i]};
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) forward_butterfly(x[j], y[j], w, q, two_q);
    }
  }
  // Last stage (t = 1, m = n/2): one butterfly per block, as one flat loop.
  for (std::size_t i = 0; i < m; ++i) {
    forward_butterfly(a[2 * i], a[2 * i + 1], ShoupOperand{w_val[m + i], w_quo[m + i]}, q, two_q);
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
  // First stage (t = 1, m = n/2) as one flat loop; block i uses psi^-bitrev(m + i).
  for (std::size_t i = 0, m = n / 2; i < m; ++i) {
    inverse_butterfly(a[2 * i], a[2 * i + 1], ShoupOperand{w_val[m + i], w_quo[m + i]}, q, two_q);
  }
  // Further stages but the last: m blocks of 2t elements.
  std::size_t t = 2;
  for (std::size_t m = n / 4; m > 1; m >>= 1, t <<= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const ShoupOperand w{w_val[m + i], w_quo[m + i]};
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) inverse_butterfly(x[j], y[j], w, q, two_q);
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
