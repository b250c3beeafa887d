// The AVX-512 IFMA kernel bodies compiled against the emulated vector backend, so that their
// logic is differential-tested on every CPU (the real ones run only where CPUID has IFMA).
#define LEUKOCRYPT_IFMA_EMULATION 1
#define LC_IFMA_NAMESPACE ifma_emulated
#include "he/kernels/ifma_kernels_impl.h"

#include "ifma_emulated.h"

namespace leukocrypt::he::ifma_emulated {

bool take_range_violation() { return ifma_emu_ops::g_range_violation.exchange(false); }

}  // namespace leukocrypt::he::ifma_emulated
