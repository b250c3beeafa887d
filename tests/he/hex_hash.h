// BLAKE2b-256 of a byte string as hex: the golden-hash tests of both schemes' serialized formats.
#pragma once

#include <sodium.h>

#include <string>

namespace leukocrypt::testing {

inline std::string hex_hash(const std::string& bytes) {
  unsigned char h[32];
  crypto_generichash(h, sizeof(h), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), nullptr, 0);
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : h) {
    s.push_back(d[c >> 4]);
    s.push_back(d[c & 15]);
  }
  return s;
}

}  // namespace leukocrypt::testing
