// AVX-512 IFMA kernels (NTT and element-wise) for moduli below 2^50; compiled with
// -mavx512f -mavx512dq -mavx512vl -mavx512bw -mavx512ifma and called only when CPUID reports them.
// The kernel bodies live in ifma_kernels_impl.h so that the tests can also run them emulated.
#define LC_IFMA_NAMESPACE avx512ifma
#include "he/kernels/ifma_kernels_impl.h"
