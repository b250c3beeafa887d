// FNV-1a (64-bit): a fast fingerprint for telling files and settings apart (which model a
// params.json was chosen for, parameter ids). Not a cryptographic hash: it detects accidents,
// not adversaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace leukocrypt {

inline constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
inline constexpr std::uint64_t kFnvPrime = 1099511628211ull;

// Continues an FNV-1a hash `h` over `bytes`.
inline std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t h = kFnvOffset) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

// 16 lower-case hex digits.
inline std::string hex64(std::uint64_t h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) s[static_cast<std::size_t>(i)] = kHex[h & 15];
  return s;
}

}  // namespace leukocrypt
