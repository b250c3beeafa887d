// Run-time choice of the kernel instruction set. The public NTT and element-wise functions
// call through a table picked once, at first use, from CPUID; LEUKOCRYPT_KERNELS=
// scalar|avx2|avx512|ifma forces one (one the CPU lacks falls back, with a warning on stderr).
#pragma once

namespace leukocrypt::he {

enum class KernelIsa { kScalar, kAvx2, kAvx512, kAvx512Ifma };

// The ISA the public kernels use in this process (fixed after the first call).
KernelIsa active_isa();
// The best ISA this build and CPU support, ignoring the environment.
KernelIsa best_supported_isa();
// Whether this build has kernels for `isa` and the CPU (and OS) can run them.
bool isa_supported(KernelIsa isa);
// The ISA that LEUKOCRYPT_KERNELS=`value` selects (nullptr or "" = best supported); an unknown or
// unsupported value gives the best supported one and a warning on stderr.
KernelIsa select_isa(const char* value);
// "scalar", "avx2", "avx512", "ifma".
const char* to_string(KernelIsa isa);

}  // namespace leukocrypt::he
