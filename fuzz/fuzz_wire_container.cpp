// libFuzzer target for the `.lcx` envelope (untrusted HTTP bodies and files): the in-memory parser
// and the on-disk reader (ContainerFile, the server's path for uploads) must agree on every input
// -- both reject it with leukocrypt::Error, or both accept it with the same header and blobs -- and
// never crash, hang or leak. An accepted container must survive serialize -> parse unchanged.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.h"
#include "service/wire/container.h"

using namespace leukocrypt;

namespace {

// The input as a file without touching the disk: a memfd reached through /proc/self/fd.
struct MemFile {
  int fd = ::memfd_create("lcx", 0);
  explicit MemFile(std::string_view bytes) {
    if (fd < 0) std::abort();
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (w <= 0) std::abort();
      done += static_cast<std::size_t>(w);
    }
  }
  ~MemFile() { ::close(fd); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd); }
};

void check(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  wire::ParseLimits limits;
  limits.max_string = 4096;
  limits.max_names = 4096;
  limits.max_blobs = 4096;
  bool mem_ok = false, file_ok = false;
  wire::ContainerView v;
  try {
    v = wire::parse(bytes, "fuzz", limits);
    mem_ok = true;
  } catch (const Error&) {
  }
  MemFile mf(bytes);
  try {
    auto f = wire::ContainerFile::open(mf.path(), "fuzz", limits);
    file_ok = true;
    if (mem_ok) {
      const auto& h = f.header();
      check(h.kind == v.kind && h.params_id == v.params_id && h.key_id == v.key_id && h.model_id == v.model_id &&
            h.cells == v.cells && h.names == v.names && h.meta == v.meta);
      check(f.blob_count() == v.blobs.size());
      for (std::size_t i = 0; i < v.blobs.size(); ++i) check(f.read_blob(i) == v.blobs[i]);
    }
  } catch (const Error&) {
  }
  check(mem_ok == file_ok);
  if (mem_ok && !v.meta.empty()) {  // (serialize writes "{}" for an empty meta)
    wire::Container c{v, {}};
    for (auto b : v.blobs) c.blobs.emplace_back(b);
    check(wire::serialize(c) == bytes);
  }
  return 0;
}
