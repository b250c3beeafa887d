// MNIST idx reader (zlib's gz* API also passes plain files through unchanged).
#include "data/mnist.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.h"

namespace leukocrypt::data {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxCount = 1u << 24;
constexpr std::size_t kMaxDecompressed = std::size_t(1) << 31;

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t off) {
  return (std::uint32_t(b[off]) << 24) | (std::uint32_t(b[off + 1]) << 16) | (std::uint32_t(b[off + 2]) << 8) |
         std::uint32_t(b[off + 3]);
}

}  // namespace

std::vector<std::uint8_t> read_gzip_file(const fs::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw IoError("cannot read '" + path.string() + "': not a regular file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw IoError("cannot open '" + path.string() + "': " + std::strerror(errno));
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw FormatError("'" + path.string() + "' is not a valid gzip stream: " + msg);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      gzclose(f);
      throw FormatError("'" + path.string() + "' decompresses to more than " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  if (err != Z_OK && err != Z_STREAM_END) {
    std::string m = msg ? msg : "";
    gzclose(f);
    throw FormatError("'" + path.string() + "' is a truncated or corrupt gzip stream: " + m);
  }
  if (gzclose(f) != Z_OK) throw FormatError("'" + path.string() + "' is a truncated or corrupt gzip stream");
  return out;
}

MnistSet load_mnist(const fs::path& images_gz, const fs::path& labels_gz) {
  const auto img = read_gzip_file(images_gz, kMaxDecompressed);
  const auto lab = read_gzip_file(labels_gz, kMaxCount + 8);
  const std::string in = "'" + images_gz.string() + "'", ln = "'" + labels_gz.string() + "'";
  if (img.size() < 16) throw FormatError(in + " is too short for an idx3 header (" + std::to_string(img.size()) + " bytes)");
  if (lab.size() < 8) throw FormatError(ln + " is too short for an idx1 header (" + std::to_string(lab.size()) + " bytes)");
  if (be32(img, 0) != 0x803) throw FormatError(in + " has magic " + std::to_string(be32(img, 0)) + ", expected 2051 (idx3 ubyte)");
  if (be32(lab, 0) != 0x801) throw FormatError(ln + " has magic " + std::to_string(be32(lab, 0)) + ", expected 2049 (idx1 ubyte)");
  const std::size_t count = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12), nlab = be32(lab, 4);
  if (count == 0 || count > kMaxCount) throw FormatError(in + " has an implausible image count " + std::to_string(count));
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
    throw FormatError(in + " has implausible dimensions " + std::to_string(rows) + "x" + std::to_string(cols));
  if (nlab != count)
    throw FormatError(ln + " holds " + std::to_string(nlab) + " labels but " + in + " holds " + std::to_string(count) + " images");
  const std::size_t want = 16 + count * rows * cols;
  if (img.size() != want)
    throw FormatError(in + " has " + std::to_string(img.size()) + " bytes, expected " + std::to_string(want));
  if (lab.size() != 8 + count)
    throw FormatError(ln + " has " + std::to_string(lab.size()) + " bytes, expected " + std::to_string(8 + count));
  MnistSet set;
  set.rows = static_cast<int>(rows);
  set.cols = static_cast<int>(cols);
  set.images.assign(img.begin() + 16, img.end());
  set.labels.assign(lab.begin() + 8, lab.end());
  for (std::size_t i = 0; i < count; ++i)
    if (set.labels[i] > 9) throw FormatError(ln + " label " + std::to_string(i) + " is " + std::to_string(set.labels[i]) + ", expected 0..9");
  return set;
}

}  // namespace leukocrypt::data
