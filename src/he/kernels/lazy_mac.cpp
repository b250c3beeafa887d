// The overflow check for the lazy small-weight multiply-add (eltwise_mac_small): callers run it
// once per accumulated row at plan time and fall back to the reduced Shoup kernel when it fails.
#include "he/kernels/eltwise.h"

namespace leukocrypt::he {

bool lazy_mac_fits(const std::int64_t* w, std::size_t count, const Modulus& q) {
  u128 sum = 1;  // the accumulator's starting value, below q
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t a = w[i] < 0 ? 0 - static_cast<std::uint64_t>(w[i]) : static_cast<std::uint64_t>(w[i]);
    if (a >> 32) return false;
    sum += a;
    if (sum * q.value() >> 64) return false;  // sum < 2^(64 + 32): the product fits 128 bits
  }
  return (sum * q.value() >> 64) == 0;
}

}  // namespace leukocrypt::he
