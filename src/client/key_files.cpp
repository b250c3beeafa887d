// Key directory files (see key_files.h).
#include "client/key_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "common/error.h"
#include "common/paths.h"

namespace leukocrypt::client {

void write_file_mode(const std::filesystem::path& path, const std::string& bytes, unsigned mode) {
  write_file_atomic(path, bytes, mode);
}

void prepare_key_dir(const KeyPaths& p, bool overwrite) {
  std::error_code ec;
  std::filesystem::create_directories(p.dir, ec);
  if (ec) throw IoError("cannot create key directory '" + p.dir.string() + "': " + ec.message());
  ::chmod(p.dir.c_str(), 0700);
  if (!overwrite && std::filesystem::exists(p.secret))
    throw IoError("'" + p.secret.string() + "' exists; refusing to overwrite a secret key (use --force)");
}

void write_key_dir(const KeyPaths& p, const std::string& secret, const std::string& public_key,
                   wire::AtomicFile& eval, const nlohmann::json& info, bool overwrite) {
  prepare_key_dir(p, overwrite);
  write_file_mode(p.secret, secret, 0600);
  write_file_mode(p.public_key, public_key, 0644);
  eval.commit();
  write_file_mode(p.info, info.dump(2) + "\n", 0644);
}

std::string read_key_file(const std::filesystem::path& path, wire::Kind expected) {
  if (expected == wire::Kind::kSecretKey) require_private_file(path);
  auto bytes = read_file(path);
  wire::parse_as(bytes, expected, path.string());
  return bytes;
}

nlohmann::json read_key_info(const KeyPaths& p) {
  auto text = read_file(p.info, 1 << 24);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw FormatError("'" + p.info.string() + "' is not a JSON object");
  return j;
}

}  // namespace leukocrypt::client
