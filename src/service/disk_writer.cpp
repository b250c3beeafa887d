// Durable payload writes with disk-full detection (see disk_writer.h).
#include "service/disk_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

namespace leukocrypt::service {
namespace {

std::atomic<std::int64_t> g_free_for_tests{-1};

[[noreturn]] void throw_write_error(int err, const std::string& what) {
  if (err == ENOSPC || err == EDQUOT)
    throw StorageFull("the server's disk is full: cannot write " + what + " (" + std::strerror(err) + ")");
  throw IoError("cannot write " + what + ": " + std::strerror(err));
}

// Consumes n bytes of the simulated free space; false when they do not fit.
bool take_simulated_space(std::size_t n) {
  std::int64_t free = g_free_for_tests.load();
  while (free >= 0) {
    if (static_cast<std::uint64_t>(free) < n) return false;
    if (g_free_for_tests.compare_exchange_weak(free, free - static_cast<std::int64_t>(n))) return true;
  }
  return true;
}

// 'path' (built with += : GCC 12 warns falsely (-Wrestrict) on "'" + string).
std::string quoted(const std::filesystem::path& p) {
  std::string s = "'";
  s += p.string();
  s += "'";
  return s;
}

}  // namespace

void simulate_free_disk_space_for_tests(std::int64_t bytes) { g_free_for_tests = bytes; }

void write_all(int fd, const char* data, std::size_t n, const std::string& what) {
  if (!take_simulated_space(n)) throw_write_error(ENOSPC, what);
  std::size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_write_error(errno, what);
    done += static_cast<std::size_t>(w);
  }
}

void write_file_durably(const std::filesystem::path& path, std::string_view bytes) {
  std::random_device rd;
  std::string name = ".";  // built with += : GCC 12 warns falsely (-Wrestrict) on "." + string
  name += path.filename().string();
  name += ".tmp";
  name += std::to_string(rd());
  auto tmp = path.parent_path() / name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw_write_error(errno, quoted(tmp));
  try {
    write_all(fd, bytes.data(), bytes.size(), quoted(path));
    if (::fsync(fd) != 0) throw_write_error(errno, quoted(path) + " (fsync)");
    if (::close(fd) != 0) {
      fd = -1;
      throw_write_error(errno, quoted(path) + " (close)");
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_write_error(errno, quoted(path) + " (rename)");
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace leukocrypt::service
