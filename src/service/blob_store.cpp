// Payloads as files in one directory (see blob_store.h).
#include "service/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/paths.h"
#include "service/disk_writer.h"

namespace leukocrypt::service {

void fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

DirectoryBlobStore::DirectoryBlobStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw IoError("payload store: cannot create '" + dir_.string() + "': " + ec.message());
}

// write_file_durably: temporary name, fsync, rename (StorageFull told apart); then the directory.
void DirectoryBlobStore::put(const std::string& name, std::string_view bytes) {
  write_file_durably(local_path(name), bytes);
  fsync_directory(dir_);
}

std::string DirectoryBlobStore::get(const std::string& name) const { return read_file(local_path(name)); }

void DirectoryBlobStore::remove(const std::string& name) noexcept {
  std::error_code ec;
  std::filesystem::remove(local_path(name), ec);  // a leftover is an orphan for the next start
}

}  // namespace leukocrypt::service
