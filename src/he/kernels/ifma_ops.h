// Internal: the handful of 8 x 64-bit vector operations the AVX-512 IFMA kernels are written in.
// Two backends with identical semantics:
//  - real: AVX-512F/DQ/IFMA intrinsics (the *_avx512ifma.cpp files, compiled with -mavx512ifma);
//  - emulated (LEUKOCRYPT_IFMA_EMULATION): plain C++ following Intel's pseudo-code, so that the
//    kernel logic (lazy ranges, permutations, twiddle indexing) is tested on any CPU. The emulation
//    also records any multiplier input >= 2^52, which hardware would silently truncate.
#pragma once

#include <cstdint>

#if defined(LEUKOCRYPT_IFMA_EMULATION)

#include <atomic>

// Distinct namespaces per backend: both may be linked into one test program.
#define LC_IFMA_OPS ifma_emu_ops

namespace leukocrypt::he::LC_IFMA_OPS {

struct V8 {
  std::uint64_t l[8];
};

constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1;
inline std::atomic<bool> g_range_violation{false};

inline V8 load(const std::uint64_t* p) { V8 v; for (int i = 0; i < 8; ++i) v.l[i] = p[i]; return v; }
inline void store(std::uint64_t* p, V8 v) { for (int i = 0; i < 8; ++i) p[i] = v.l[i]; }
inline V8 set1(std::uint64_t x) { V8 v; for (auto& e : v.l) e = x; return v; }
inline V8 set8(std::uint64_t e0, std::uint64_t e1, std::uint64_t e2, std::uint64_t e3,
               std::uint64_t e4, std::uint64_t e5, std::uint64_t e6, std::uint64_t e7) {
  return V8{{e0, e1, e2, e3, e4, e5, e6, e7}};
}
inline V8 add(V8 a, V8 b) { for (int i = 0; i < 8; ++i) a.l[i] += b.l[i]; return a; }
inline V8 sub(V8 a, V8 b) { for (int i = 0; i < 8; ++i) a.l[i] -= b.l[i]; return a; }
inline V8 min_u64(V8 a, V8 b) { for (int i = 0; i < 8; ++i) a.l[i] = a.l[i] < b.l[i] ? a.l[i] : b.l[i]; return a; }
inline V8 bit_and(V8 a, V8 b) { for (int i = 0; i < 8; ++i) a.l[i] &= b.l[i]; return a; }
inline V8 bit_or(V8 a, V8 b) { for (int i = 0; i < 8; ++i) a.l[i] |= b.l[i]; return a; }
inline V8 shl(V8 a, V8 count) { for (int i = 0; i < 8; ++i) a.l[i] = count.l[i] > 63 ? 0 : a.l[i] << count.l[i]; return a; }
inline V8 shr(V8 a, V8 count) { for (int i = 0; i < 8; ++i) a.l[i] = count.l[i] > 63 ? 0 : a.l[i] >> count.l[i]; return a; }
inline void note_range(std::uint64_t x) { if (x > kMask52) g_range_violation = true; }
// acc + low 52 bits of (b[51:0] * c[51:0]) (vpmadd52luq).
inline V8 madd52lo(V8 acc, V8 b, V8 c) {
  for (int i = 0; i < 8; ++i) {
    note_range(b.l[i]); note_range(c.l[i]);
    unsigned __int128 p = static_cast<unsigned __int128>(b.l[i] & kMask52) * (c.l[i] & kMask52);
    acc.l[i] += static_cast<std::uint64_t>(p) & kMask52;
  }
  return acc;
}
// acc + bits 103:52 of (b[51:0] * c[51:0]) (vpmadd52huq).
inline V8 madd52hi(V8 acc, V8 b, V8 c) {
  for (int i = 0; i < 8; ++i) {
    note_range(b.l[i]); note_range(c.l[i]);
    unsigned __int128 p = static_cast<unsigned __int128>(b.l[i] & kMask52) * (c.l[i] & kMask52);
    acc.l[i] += static_cast<std::uint64_t>(p >> 52);
  }
  return acc;
}
// Lane i = (idx[i] & 15) < 8 ? a[idx[i] & 7] : b[idx[i] & 7] (vpermt2q).
inline V8 permute2(V8 a, V8 idx, V8 b) {
  V8 r;
  for (int i = 0; i < 8; ++i) r.l[i] = (idx.l[i] & 8) ? b.l[idx.l[i] & 7] : a.l[idx.l[i] & 7];
  return r;
}
// Lane i = a[idx[i] & 7] (vpermq).
inline V8 permute(V8 idx, V8 a) {
  V8 r;
  for (int i = 0; i < 8; ++i) r.l[i] = a.l[idx.l[i] & 7];
  return r;
}

}  // namespace leukocrypt::he::LC_IFMA_OPS

#else  // real AVX-512 IFMA

#include <immintrin.h>

#define LC_IFMA_OPS ifma_ops

namespace leukocrypt::he::LC_IFMA_OPS {

using V8 = __m512i;

inline V8 load(const std::uint64_t* p) { return _mm512_loadu_si512(p); }
inline void store(std::uint64_t* p, V8 v) { _mm512_storeu_si512(p, v); }
inline V8 set1(std::uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
inline V8 set8(std::uint64_t e0, std::uint64_t e1, std::uint64_t e2, std::uint64_t e3,
               std::uint64_t e4, std::uint64_t e5, std::uint64_t e6, std::uint64_t e7) {
  // _mm512_set_epi64 takes the highest lane first.
  return _mm512_set_epi64(static_cast<long long>(e7), static_cast<long long>(e6),
                          static_cast<long long>(e5), static_cast<long long>(e4),
                          static_cast<long long>(e3), static_cast<long long>(e2),
                          static_cast<long long>(e1), static_cast<long long>(e0));
}
inline V8 add(V8 a, V8 b) { return _mm512_add_epi64(a, b); }
inline V8 sub(V8 a, V8 b) { return _mm512_sub_epi64(a, b); }
inline V8 min_u64(V8 a, V8 b) { return _mm512_min_epu64(a, b); }
inline V8 bit_and(V8 a, V8 b) { return _mm512_and_si512(a, b); }
inline V8 bit_or(V8 a, V8 b) { return _mm512_or_si512(a, b); }
inline V8 shl(V8 a, V8 count) { return _mm512_sllv_epi64(a, count); }
inline V8 shr(V8 a, V8 count) { return _mm512_srlv_epi64(a, count); }
inline V8 madd52lo(V8 acc, V8 b, V8 c) { return _mm512_madd52lo_epu64(acc, b, c); }
inline V8 madd52hi(V8 acc, V8 b, V8 c) { return _mm512_madd52hi_epu64(acc, b, c); }
inline V8 permute2(V8 a, V8 idx, V8 b) { return _mm512_permutex2var_epi64(a, idx, b); }
inline V8 permute(V8 idx, V8 a) { return _mm512_permutexvar_epi64(idx, a); }

}  // namespace leukocrypt::he::LC_IFMA_OPS

#endif
