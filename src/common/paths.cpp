// File helpers: data-folder lookup, whole-file reads, atomic writes.
#include "common/paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "common/error.h"

namespace leukocrypt {

std::filesystem::path data_dir(const std::filesystem::path& fallback) {
  if (const char* env = std::getenv("LEUKOCRYPT_DATA_DIR"); env && *env) return env;
  return fallback;
}

void require_private_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw IoError("cannot read '" + path.string() + "': " + std::strerror(errno));
  if (st.st_mode & 0077)
    throw IoError("'" + path.string() + "' is readable by group or others (mode " + std::to_string((st.st_mode >> 6) & 7) +
                  std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) + "); run chmod 600 on it");
}

std::string read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw IoError("cannot read '" + path.string() + "': not a regular file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError("cannot read '" + path.string() + "': " + ec.message());
  if (size > max_bytes)
    throw IoError("file '" + path.string() + "' is too large (" + std::to_string(size) + " bytes, limit " +
                  std::to_string(max_bytes) + ")");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path.string() + "': " + std::strerror(errno));
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(in.gcount()) != size) throw IoError("short read on '" + path.string() + "'");
  return bytes;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes, unsigned mode) {
  auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  std::string tmp_name = ".";  // built with += : GCC 12 warns falsely (-Wrestrict) on "." + string
  tmp_name += path.filename().string();
  tmp_name += ".tmp";
  tmp_name += std::to_string(rd());
  auto tmp = dir / tmp_name;
  auto fail = [&](int fd, const char* what) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError(std::string("cannot ") + what + " '" + path.string() + "': " + std::strerror(e));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0) throw IoError("cannot write '" + tmp.string() + "': " + std::strerror(errno));
  if (::fchmod(fd, mode) != 0) fail(fd, "set the mode of");
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(fd, "write");
    }
    off += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) fail(fd, "fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(-1, "rename to");
}

}  // namespace leukocrypt
