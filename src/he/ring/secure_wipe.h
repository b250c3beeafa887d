// Wiping secret material: the secret key, the error and mask polynomials of an encryption, and
// the thread-local scratch they passed through. libsodium's sodium_memzero is a zeroing the
// compiler may not drop as a dead store (a plain memset before free can be removed).
#pragma once

#include <cstddef>

namespace leukocrypt::he {

void secure_wipe(void* p, std::size_t bytes) noexcept;

// Wipes `count` elements at `p` when the scope ends (also on an exception).
template <class T>
class WipeOnExit {
 public:
  WipeOnExit(T* p, std::size_t count) : p_(p), count_(count) {}
  ~WipeOnExit() { secure_wipe(p_, count_ * sizeof(T)); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  T* p_;
  std::size_t count_;
};

}  // namespace leukocrypt::he
