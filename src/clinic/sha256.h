// SHA-256 for key fingerprints: eval.key is gigabytes with Galois keys, so it is hashed in pieces —
// while it streams to the provider, or from the file — never loaded whole. OpenSSL's libcrypto
// (already linked through cpp-httplib's TLS) uses the CPU's SHA extensions: ~1 GB/s here, where
// libsodium's portable code took ~8 s for a 1.15 GB eval.key, serial with the upload.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace leukocrypt::clinic {

class Sha256 {
 public:
  Sha256();
  void update(const char* data, std::size_t n);
  // Lower-case hex of everything updated so far (what `sha256sum` prints). Call once.
  std::string hex();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// SHA-256 of the bytes, lower-case hex (the fingerprint of eval.key a provider can check with sha256sum).
std::string sha256_hex(const std::string& bytes);
// The same for a file, read in pieces. Throws IoError.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace leukocrypt::clinic
