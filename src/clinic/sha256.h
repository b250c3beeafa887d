// SHA-256 (libsodium) for key fingerprints: eval.key is gigabytes with Galois keys, so it is hashed
// in pieces — while it streams to the provider, or from the file — never loaded whole.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <filesystem>
#include <string>

namespace leukocrypt::clinic {

class Sha256 {
 public:
  Sha256();
  void update(const char* data, std::size_t n);
  // Lower-case hex of everything updated so far (what `sha256sum` prints). Call once.
  std::string hex();

 private:
  crypto_hash_sha256_state state_{};
};

// SHA-256 of the bytes, lower-case hex (the fingerprint of eval.key a provider can check with sha256sum).
std::string sha256_hex(const std::string& bytes);
// The same for a file, read in pieces. Throws IoError.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace leukocrypt::clinic
