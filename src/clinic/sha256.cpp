// SHA-256 fingerprints (see sha256.h).
#include "clinic/sha256.h"

#include <fstream>
#include <vector>

#include "common/error.h"

namespace leukocrypt::clinic {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw Error("SHA-256: OpenSSL initialisation failed");
}

void Sha256::update(const char* data, std::size_t n) {
  if (EVP_DigestUpdate(ctx_.get(), data, n) != 1) throw Error("SHA-256: OpenSSL update failed");
}

std::string Sha256::hex() {
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), h, &len) != 1 || len != 32) throw Error("SHA-256: OpenSSL final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) s += {kHex[h[i] >> 4], kHex[h[i] & 15]};
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
