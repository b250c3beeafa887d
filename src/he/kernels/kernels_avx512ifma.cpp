// AVX-512 IFMA kernels (NTT and element-wise) for moduli below 2^50; compiled with
// -mavx512f -mavx512dq -mavx512vl -mavx512bw -mavx512ifma and called only when CPUID reports them.
// The kernel bodies live in ifma_kernels_impl.h so that the tests can also run them emulated.
#define LC_IFMA_NAMESPACE avx512ifma
#include "he/kernels/ifma_kernels_impl.h"

// Lazy small-weight multiply-add in 64-bit integer lanes, 8 per vector: AVX512DQ's vpmullq gives
// the low 64 bits of w * x directly, which is the exact product under the caller's bound
// (acc + |w| * q < 2^64, see lazy_mac_fits). Not part of the emulated IFMA set (no 52-bit limbs).
#include <immintrin.h>

namespace leukocrypt::he::avx512ifma {
namespace {
template <bool kNeg>
void mac_small_lanes(std::uint64_t* acc, const std::uint64_t* x, std::uint64_t a, std::uint64_t qv,
                     std::size_t n) {
  const __m512i va = _mm512_set1_epi64(static_cast<long long>(a));
  const __m512i vq = _mm512_set1_epi64(static_cast<long long>(qv));
  auto step = [&](std::size_t i) {
    __m512i v = _mm512_loadu_si512(x + i);
    if constexpr (kNeg) v = _mm512_sub_epi64(vq, v);
    _mm512_storeu_si512(acc + i, _mm512_add_epi64(_mm512_loadu_si512(acc + i), _mm512_mullo_epi64(v, va)));
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    step(i);
    step(i + 8);
  }
  for (; i + 8 <= n; i += 8) step(i);
  for (; i < n; ++i) acc[i] += a * (kNeg ? qv - x[i] : x[i]);
}
}  // namespace

void eltwise_mac_small(std::uint64_t* acc, const std::uint64_t* x, std::int64_t w, std::size_t n,
                       const Modulus& q) {
  if (w >= 0) return mac_small_lanes<false>(acc, x, static_cast<std::uint64_t>(w), 0, n);
  mac_small_lanes<true>(acc, x, 0 - static_cast<std::uint64_t>(w), q.value(), n);
}

}  // namespace leukocrypt::he::avx512ifma
