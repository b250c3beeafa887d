// Key containers: Galois key lookup and Galois elements for rotations.
#include "he/rlwe/keys.h"

#include "common/error.h"

namespace leukocrypt::rlwe {

const KeySwitchKey& GaloisKeys::get(std::uint32_t galois_elt) const {
  auto it = keys_.find(galois_elt);
  if (it == keys_.end())
    throw InvalidArgument("GaloisKeys: no key for Galois element " + std::to_string(galois_elt) +
                          " (generate it with create_galois_keys)");
  return it->second;
}

std::uint32_t galois_elt_for_step(int step, std::size_t n, std::uint32_t generator) {
  const std::size_t half = n / 2;
  require(step != 0 && static_cast<std::size_t>(std::abs(step)) < half,
          "rotation step " + std::to_string(step) + " must be non-zero with |step| < N/2=" + std::to_string(half));
  // Rotating left by step = applying g^step; right by |step| = g^(N/2 - |step|) (g has order N/2).
  std::size_t e = step > 0 ? static_cast<std::size_t>(step) : half - static_cast<std::size_t>(-step);
  const std::uint64_t m = 2 * n;
  std::uint64_t g = 1, b = generator;
  while (e) {
    if (e & 1) g = g * b % m;
    b = b * b % m;
    e >>= 1;
  }
  return static_cast<std::uint32_t>(g);
}

}  // namespace leukocrypt::rlwe
