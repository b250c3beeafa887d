// sodium_memzero behind a header that does not expose libsodium.
#include "he/ring/secure_wipe.h"

#include <sodium.h>

namespace leukocrypt::he {

void secure_wipe(void* p, std::size_t bytes) noexcept {
  if (p != nullptr && bytes != 0) sodium_memzero(p, bytes);
}

}  // namespace leukocrypt::he
