// Kernel dispatch: CPUID detection, the LEUKOCRYPT_KERNELS override, and the public kernel
// entry points, each one indirect call through the active table.
#include "he/kernels/dispatch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/isa_kernels.h"
#include "he/kernels/kernel_table.h"
#include "he/math/primes.h"

namespace leukocrypt::he {
namespace {

constexpr KernelTable kScalarTable{
    KernelIsa::kScalar,
    scalar::forward_ntt, scalar::forward_ntt_lazy, scalar::inverse_ntt,
    scalar::eltwise_add_mod, scalar::eltwise_sub_mod, scalar::eltwise_neg_mod,
    scalar::eltwise_mul_mod, scalar::eltwise_mul_scalar_mod, scalar::eltwise_fma_scalar_mod,
    scalar::eltwise_add_scalar_mod, scalar::eltwise_reduce_mod, scalar::eltwise_mul_add_mod,
    scalar::eltwise_dot_scalar_mod, scalar::eltwise_mac_small, scalar::eltwise_fma_lazy_mod,
    scalar::eltwise_matmul_mod};

#if LEUKOCRYPT_KERNELS_IFMA
constexpr KernelTable kAvx512IfmaTable{
    KernelIsa::kAvx512Ifma,
    avx512ifma::forward_ntt, avx512ifma::forward_ntt_lazy, avx512ifma::inverse_ntt,
    avx512ifma::eltwise_add_mod, avx512ifma::eltwise_sub_mod, avx512ifma::eltwise_neg_mod,
    avx512ifma::eltwise_mul_mod, avx512ifma::eltwise_mul_scalar_mod,
    avx512ifma::eltwise_fma_scalar_mod, avx512ifma::eltwise_add_scalar_mod,
    avx512ifma::eltwise_reduce_mod, avx512ifma::eltwise_mul_add_mod,
    avx512ifma::eltwise_dot_scalar_mod, avx512ifma::eltwise_mac_small, avx512ifma::eltwise_fma_lazy_mod,
    avx512ifma::eltwise_matmul_mod};
#endif

#if LEUKOCRYPT_KERNELS_AVX2
constexpr KernelTable kAvx2Table{
    KernelIsa::kAvx2,
    avx2::forward_ntt, avx2::forward_ntt_lazy, avx2::inverse_ntt,
    avx2::eltwise_add_mod, avx2::eltwise_sub_mod, avx2::eltwise_neg_mod,
    avx2::eltwise_mul_mod, avx2::eltwise_mul_scalar_mod, avx2::eltwise_fma_scalar_mod,
    avx2::eltwise_add_scalar_mod, avx2::eltwise_reduce_mod, avx2::eltwise_mul_add_mod,
    avx2::eltwise_dot_scalar_mod, avx2::eltwise_mac_small, scalar::eltwise_fma_lazy_mod,
    scalar::eltwise_matmul_mod};
#endif

bool cpu_has(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kScalar: return true;
    case KernelIsa::kAvx2:
#if LEUKOCRYPT_KERNELS_AVX2
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
      return false;
#endif
    case KernelIsa::kAvx512: return false;  // no plain AVX-512 kernels in this build
    case KernelIsa::kAvx512Ifma:
#if LEUKOCRYPT_KERNELS_IFMA
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512ifma");
#else
      return false;
#endif
  }
  return false;
}

// A SIMD table must reproduce the scalar kernels on a small known input before it is used: a
// cheap guard (microseconds, once per process) for kernels that the build machine may not have
// been able to run. Covers the SIMD paths (q < 2^50) of every kernel.
}  // namespace

bool passes_self_test(const KernelTable& k) {
  constexpr std::size_t kN = 64;
  const Modulus q(ntt_primes_below(40, 6, 1)[0]);
  const NttTables tables(kN, q);
  std::uint64_t a[kN], b[kN], ref[kN], got[kN];
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  for (std::size_t i = 0; i < kN; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    a[i] = (state >> 11) % q.value();
    b[i] = (state >> 7) % q.value();
  }
  a[0] = 0;
  a[1] = q.value() - 1;
  auto same = [&] { return std::equal(ref, ref + kN, got); };
  const ShoupOperand w = make_shoup(q.value() - 2, q.value());
  std::copy(a, a + kN, ref); std::copy(a, a + kN, got);
  scalar::forward_ntt(ref, tables); k.forward_ntt(got, tables);
  if (!same()) return false;
  scalar::inverse_ntt(ref, tables); k.inverse_ntt(got, tables);
  if (!same()) return false;
  scalar::eltwise_mul_mod(ref, a, b, kN, q); k.mul_mod(got, a, b, kN, q);
  if (!same()) return false;
  std::copy(b, b + kN, ref); std::copy(b, b + kN, got);
  scalar::eltwise_fma_scalar_mod(ref, a, w, kN, q); k.fma_scalar_mod(got, a, w, kN, q);
  if (!same()) return false;
  scalar::eltwise_sub_mod(ref, a, b, kN, q); k.sub_mod(got, a, b, kN, q);
  if (!same()) return false;
  const std::uint64_t* rows[3] = {a, b, a};
  const ShoupOperand ws[3] = {w, make_shoup(1, q.value()), make_shoup(12345, q.value())};
  scalar::eltwise_dot_scalar_mod(ref, rows, ws, 3, kN, q); k.dot_scalar_mod(got, rows, ws, 3, kN, q);
  if (!same()) return false;
  std::copy(b, b + kN, ref); std::copy(b, b + kN, got);
  for (std::int64_t wm : {std::int64_t{4095}, std::int64_t{-7}}) {
    scalar::eltwise_mac_small(ref, a, wm, kN, q); k.mac_small(got, a, wm, kN, q);
  }
  return same();
}

KernelIsa select_isa(const char* env) {
  const KernelIsa best = best_supported_isa();
  if (env == nullptr || *env == '\0') return best;
  const std::string_view want(env);
  for (KernelIsa isa : {KernelIsa::kScalar, KernelIsa::kAvx2, KernelIsa::kAvx512, KernelIsa::kAvx512Ifma}) {
    if (want != to_string(isa)) continue;
    if (isa_supported(isa)) return isa;
    std::fprintf(stderr, "leukocrypt: LEUKOCRYPT_KERNELS=%s not supported here, using %s\n", env,
                 to_string(best));
    return best;
  }
  std::fprintf(stderr,
               "leukocrypt: LEUKOCRYPT_KERNELS=%s unknown (scalar|avx2|avx512|ifma), using %s\n",
               env, to_string(best));
  return best;
}

bool isa_supported(KernelIsa isa) { return cpu_has(isa); }

KernelIsa best_supported_isa() {
  for (KernelIsa isa : {KernelIsa::kAvx512Ifma, KernelIsa::kAvx512, KernelIsa::kAvx2}) {
    if (isa_supported(isa)) return isa;
  }
  return KernelIsa::kScalar;
}

KernelIsa active_isa() {
  static const KernelIsa isa = [] {
    const KernelIsa chosen = select_isa(std::getenv("LEUKOCRYPT_KERNELS"));
    if (chosen == KernelIsa::kScalar || passes_self_test(kernel_table(chosen))) return chosen;
    std::fprintf(stderr, "leukocrypt: %s kernels failed their self-test, using scalar\n",
                 to_string(chosen));
    return KernelIsa::kScalar;
  }();
  return isa;
}

const char* to_string(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kScalar: return "scalar";
    case KernelIsa::kAvx2: return "avx2";
    case KernelIsa::kAvx512: return "avx512";
    case KernelIsa::kAvx512Ifma: return "ifma";
  }
  return "unknown";
}

const KernelTable& kernel_table(KernelIsa isa) {
  require(isa_supported(isa), std::string("kernel ISA ") + to_string(isa) +
                                  " is not supported by this build or CPU");
  switch (isa) {
#if LEUKOCRYPT_KERNELS_IFMA
    case KernelIsa::kAvx512Ifma: return kAvx512IfmaTable;
#endif
#if LEUKOCRYPT_KERNELS_AVX2
    case KernelIsa::kAvx2: return kAvx2Table;
#endif
    default: return kScalarTable;
  }
}

const KernelTable& active_kernel_table() {
  static const KernelTable& table = kernel_table(active_isa());
  return table;
}

void forward_ntt(std::uint64_t* a, const NttTables& t) { active_kernel_table().forward_ntt(a, t); }
void forward_ntt_lazy(std::uint64_t* a, const NttTables& t) {
  active_kernel_table().forward_ntt_lazy(a, t);
}
void inverse_ntt(std::uint64_t* a, const NttTables& t) { active_kernel_table().inverse_ntt(a, t); }

void eltwise_add_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  active_kernel_table().add_mod(out, a, b, n, q);
}
void eltwise_sub_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  active_kernel_table().sub_mod(out, a, b, n, q);
}
void eltwise_neg_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  active_kernel_table().neg_mod(out, a, n, q);
}
void eltwise_mul_mod(std::uint64_t* out, const std::uint64_t* a, const std::uint64_t* b,
                     std::size_t n, const Modulus& q) {
  active_kernel_table().mul_mod(out, a, b, n, q);
}
void eltwise_mul_scalar_mod(std::uint64_t* out, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  active_kernel_table().mul_scalar_mod(out, a, w, n, q);
}
void eltwise_fma_scalar_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                            std::size_t n, const Modulus& q) {
  active_kernel_table().fma_scalar_mod(acc, a, w, n, q);
}
void eltwise_add_scalar_mod(std::uint64_t* out, const std::uint64_t* a, std::uint64_t c,
                            std::size_t n, const Modulus& q) {
  active_kernel_table().add_scalar_mod(out, a, c, n, q);
}
void eltwise_reduce_mod(std::uint64_t* out, const std::uint64_t* a, std::size_t n, const Modulus& q) {
  active_kernel_table().reduce_mod(out, a, n, q);
}
void eltwise_mul_add_mod(std::uint64_t* acc, const std::uint64_t* a, const std::uint64_t* b,
                         std::size_t n, const Modulus& q) {
  active_kernel_table().mul_add_mod(acc, a, b, n, q);
}
void eltwise_dot_scalar_mod(std::uint64_t* out, const std::uint64_t* const* rows,
                            const ShoupOperand* w, std::size_t k, std::size_t n, const Modulus& q) {
  active_kernel_table().dot_scalar_mod(out, rows, w, k, n, q);
}
void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q) {
  active_kernel_table().mac_small(acc, x, w, n, q);
}
void eltwise_fma_lazy_mod(std::uint64_t* acc, const std::uint64_t* a, const ShoupOperand& w,
                          std::size_t n, const Modulus& q) {
  active_kernel_table().fma_lazy_mod(acc, a, w, n, q);
}
void eltwise_matmul_mod(std::uint64_t* const* out, const std::uint64_t* const* rows, const std::uint64_t* w,
                        std::size_t m, std::size_t k, std::size_t n, const Modulus& q) {
  require(k <= kMatmulMaxTerms, "eltwise_matmul_mod: more than kMatmulMaxTerms terms per output");
  active_kernel_table().matmul_mod(out, rows, w, m, k, n, q);
}
// An accumulator in [0, q) plus t terms below 2q each stays below (1 + 2t) q < 2^64 for
// t = 2^(63 - b) - 1 (b = bit count of q).
std::size_t fma_lazy_terms(const Modulus& q) {
  const int b = q.bit_count();
  return b >= 63 ? 0 : (std::size_t{1} << std::min(40, 63 - b)) - 1;
}

}  // namespace leukocrypt::he
