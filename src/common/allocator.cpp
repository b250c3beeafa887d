// configure_allocator: raise glibc's mmap threshold, keep freed memory (allocator.h).
#include "common/allocator.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/aligned_buffer.h"
#ifdef __linux__
#include <sys/mman.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace leukocrypt {

namespace {

// LEUKOCRYPT_MALLOC=default: the C library's defaults, no recycling (to measure against them).
bool defaults_asked() {
  const char* env = std::getenv("LEUKOCRYPT_MALLOC");
  return env && std::strcmp(env, "default") == 0;
}

bool recycling_enabled() {
  static const bool on = !defaults_asked();
  return on;
}

// Whether this thread's cache has been destroyed (thread exit): buffers freed later (other
// thread-locals, statics at exit) go straight back to malloc. Trivially destructible, so it outlives
// the cache.
thread_local bool t_cache_gone = false;

// Per thread: up to kSlots freed large buffers, at most kMaxBytes in all, none above kMaxOne.
class RecycleCache {
 public:
  static constexpr int kSlots = 16;
  // A service runs many threads (HTTP, jobs, pool): at most 64 MiB parked per thread.
  static constexpr std::size_t kMaxOne = std::size_t{16} << 20, kMaxBytes = std::size_t{64} << 20;
  ~RecycleCache() {
    t_cache_gone = true;
    for (int i = 0; i < count_; ++i) std::free(slot_[i].p);
  }
  void* take(std::size_t bytes, std::size_t align) {
    for (int i = 0; i < count_; ++i)
      if (slot_[i].bytes == bytes && slot_[i].align == align) {
        void* p = slot_[i].p;
        held_ -= bytes;
        slot_[i] = slot_[--count_];
        return p;
      }
    return nullptr;
  }
  bool keep(void* p, std::size_t bytes, std::size_t align) {
    if (count_ == kSlots || bytes > kMaxOne || held_ + bytes > kMaxBytes) return false;
    slot_[count_++] = {p, bytes, align};
    held_ += bytes;
    return true;
  }

 private:
  struct Slot {
    void* p;
    std::size_t bytes, align;
  };
  Slot slot_[kSlots]{};
  int count_ = 0;
  std::size_t held_ = 0;
};

RecycleCache& cache() {
  static thread_local RecycleCache c;
  return c;
}

}  // namespace

namespace detail {

void* large_alloc(std::size_t bytes, std::size_t align) {
  if (recycling_enabled() && !t_cache_gone)
    if (void* p = cache().take(bytes, align)) return p;
  void* p = std::aligned_alloc(align, bytes);
  if (!p) throw std::bad_alloc();
#ifdef __linux__
  if (align >= AlignedBuffer<std::uint64_t>::kHugePage) (void)madvise(p, bytes, MADV_HUGEPAGE);  // advice only
#endif
  return p;
}

void large_free(void* p, std::size_t bytes, std::size_t align) noexcept {
  if (recycling_enabled() && !t_cache_gone && cache().keep(p, bytes, align)) return;
  std::free(p);
}

}  // namespace detail

void configure_allocator() {
  if (defaults_asked()) return;
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);    // glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
  mallopt(M_TRIM_THRESHOLD, 1 << 30);     // hand memory back only above 1 GiB free at the top
#endif
}

}  // namespace leukocrypt
