// Writes into the payload directory with a full disk told apart from other I/O errors: ENOSPC and
// EDQUOT (and SQLite's SQLITE_FULL, see job_store.cpp) throw StorageFull, which the server answers
// with 507 insufficient_storage. Every writer here leaves nothing behind when it fails (temporary
// names are removed), so a full disk never leaves a half-written payload under a real name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace leukocrypt::service {

class StorageFull : public IoError {
 public:
  using IoError::IoError;
};

// Writes all n bytes to fd (EINTR retried). Throws StorageFull or IoError naming `what`.
void write_all(int fd, const char* data, std::size_t n, const std::string& what);

// tmp (".NAME.tmpRANDOM", mode 0600) -> write -> fsync -> rename. The caller fsyncs the directory.
void write_file_durably(const std::filesystem::path& path, std::string_view bytes);

// Tests only: pretend the disk has `bytes` free for every write_all from now on (-1: no limit).
void simulate_free_disk_space_for_tests(std::int64_t bytes);

}  // namespace leukocrypt::service
