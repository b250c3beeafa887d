// The key holder's key directory, written by `leukocrypt keygen`:
//   secret.key  (mode 0600, directory 0700) — never leaves the key holder
//   public.key  — public encryption key(s)
//   eval.key    — public evaluation keys (relinearisation, Galois) uploaded to the provider
//   keys.json   — key id, params id, parameters, model id and input shape (human-readable)
// Every file is a `.lcx` container (service/wire/container.h) checked on load.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "service/wire/container.h"

namespace leukocrypt::client {

struct KeyPaths {
  std::filesystem::path dir, secret, public_key, eval, info;
  explicit KeyPaths(const std::filesystem::path& d)
      : dir(d), secret(d / "secret.key"), public_key(d / "public.key"), eval(d / "eval.key"), info(d / "keys.json") {}
};

// Writes bytes to path atomically (temporary file, fsync, rename) with the given mode.
void write_file_mode(const std::filesystem::path& path, const std::string& bytes, unsigned mode);

// Creates dir (mode 0700) and refuses an existing secret.key unless overwrite is set (a lost
// secret key means lost results): keygen checks this before making keys.
void prepare_key_dir(const KeyPaths& paths, bool overwrite);

// Writes the four files (prepare_key_dir first). eval.key has been streamed to its temporary file
// (it is gigabytes with Galois keys); it is committed after the secret and public keys.
void write_key_dir(const KeyPaths& paths, const std::string& secret, const std::string& public_key,
                   wire::AtomicFile& eval, const nlohmann::json& info, bool overwrite);

// Reads one key file and checks its envelope kind. For the secret key, also refuses a file that
// group or others can read (like ssh). Throws IoError / FormatError naming the file.
std::string read_key_file(const std::filesystem::path& path, wire::Kind expected);
nlohmann::json read_key_info(const KeyPaths& paths);

}  // namespace leukocrypt::client
