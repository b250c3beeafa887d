// configure_allocator: raise glibc's mmap threshold, keep freed memory (allocator.h).
#include "common/allocator.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace leukocrypt {

void configure_allocator() {
  const char* env = std::getenv("LEUKOCRYPT_MALLOC");
  if (env && std::strcmp(env, "default") == 0) return;  // to measure against the C library's defaults
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);    // glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
  mallopt(M_TRIM_THRESHOLD, 1 << 30);     // hand memory back only above 1 GiB free at the top
#endif
}

}  // namespace leukocrypt
