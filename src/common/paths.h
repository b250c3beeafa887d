// Locations the project reads by default: the real-data folder beside the checkout.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace leukocrypt {

// LEUKOCRYPT_DATA_DIR env var if set, else `fallback` (tests pass their compile-time path).
std::filesystem::path data_dir(const std::filesystem::path& fallback = "../shared/data");

// Writes `bytes` to `path` atomically: a temporary file in the same directory created with exactly
// `mode` (umask does not apply: secret keys need 0600), fsync, rename. Throws IoError naming the path.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes, unsigned mode = 0644);

// Reads a whole file; throws IoError naming the path.
std::string read_file(const std::filesystem::path& path, std::size_t max_bytes = std::size_t(1) << 34);

// Throws IoError ("... readable by group or others (mode 644); run chmod 600 on it") unless only
// the owner may access `path`: secret keys, API token files, TLS private keys (like ssh).
void require_private_file(const std::filesystem::path& path);

}  // namespace leukocrypt
