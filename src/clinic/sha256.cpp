// SHA-256 fingerprints (see sha256.h).
#include "clinic/sha256.h"

#include <fstream>
#include <vector>

#include "common/error.h"

namespace leukocrypt::clinic {

Sha256::Sha256() {
  if (sodium_init() < 0) throw Error("libsodium initialisation failed");
  crypto_hash_sha256_init(&state_);
}

void Sha256::update(const char* data, std::size_t n) {
  crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(data), n);
}

std::string Sha256::hex() {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state_, h);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : h) s += {kHex[c >> 4], kHex[c & 15]};
  return s;
}

std::string sha256_hex(const std::string& bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path.string() + "'");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw IoError("cannot read '" + path.string() + "'");
  return h.hex();
}

}  // namespace leukocrypt::clinic
