// Environment switches for A/B measurements (LEUKOCRYPT_FOLD=off, LEUKOCRYPT_LAZY_MAC=off, ...).
#pragma once

#include <cstdlib>
#include <string_view>

namespace leukocrypt {

// True when the variable is set to "off" or "0".
inline bool env_off(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && (std::string_view(v) == "off" || std::string_view(v) == "0");
}

}  // namespace leukocrypt
