// `.lcx` envelope: serialization and validating parser (see container.h for the layout).
#include "service/wire/container.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cctype>
#include <cstring>
#include <utility>

#include "common/error.h"

namespace leukocrypt::wire {
namespace {

constexpr char kTrailer[4] = {'E', 'N', 'D', '!'};

template <class T>
void put(std::string& out, T v) {
  char buf[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i) buf[i] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
  out.append(buf, sizeof(T));
}

void put_str(std::string& out, std::string_view s) {
  require(s.size() <= 0xffffffffu, "container string too long");
  put<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// pread exactly n bytes at pos (IoError on a short read: the file changed or is unreadable).
void read_exact(int fd, char* dst, std::size_t n, std::uint64_t pos, const std::string& what) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, dst + got, n - got, static_cast<off_t>(pos + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw IoError(what + ": cannot read " + std::to_string(n) + " bytes at offset " + std::to_string(pos) + ": " +
                    (r < 0 ? std::strerror(errno) : "unexpected end of file"));
    got += static_cast<std::size_t>(r);
  }
}

// Untrusted bytes held in memory: views point into them.
class MemorySource {
 public:
  explicit MemorySource(std::string_view b) : b_(b) {}
  std::uint64_t size() const { return b_.size(); }
  std::string_view view(std::uint64_t pos, std::size_t n) { return b_.substr(static_cast<std::size_t>(pos), n); }

 private:
  std::string_view b_;
};

// Untrusted bytes in a file, read through a 64 KiB window; a view lives until the next call.
class FileSource {
 public:
  FileSource(int fd, std::uint64_t size, const std::string& what) : fd_(fd), size_(size), what_(what) {}
  std::uint64_t size() const { return size_; }
  std::string_view view(std::uint64_t pos, std::size_t n) {
    if (pos < start_ || pos + n > start_ + buf_.size()) {
      buf_.resize(std::max<std::size_t>(n, std::min<std::uint64_t>(1 << 16, size_ - pos)));
      read_exact(fd_, buf_.data(), buf_.size(), pos, what_);
      start_ = pos;
    }
    return std::string_view(buf_).substr(static_cast<std::size_t>(pos - start_), n);
  }

 private:
  int fd_;
  std::uint64_t size_;
  const std::string& what_;
  std::string buf_;
  std::uint64_t start_ = 0;
};

// Bounds-checked reader over untrusted bytes; every failure names the source and the field.
template <class Source>
class Reader {
 public:
  Reader(Source& src, const std::string& what) : src_(src), what_(what) {}

  template <class T>
  T get(const char* field) {
    auto b = bytes(sizeof(T), field);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    return static_cast<T>(v);
  }
  std::string_view bytes(std::size_t n, const char* field) {
    need(n, field);
    auto s = src_.view(pos_, n);
    pos_ += n;
    return s;
  }
  void skip(std::uint64_t n, const char* field) {
    need(n, field);
    pos_ += n;
  }
  std::string str(const char* field, std::size_t max) {
    auto n = get<std::uint32_t>(field);
    if (n > max) fail(std::string(field) + " length " + std::to_string(n) + " exceeds the limit " + std::to_string(max));
    return std::string(bytes(n, field));
  }
  std::uint64_t remaining() const { return src_.size() - pos_; }
  std::uint64_t pos() const { return pos_; }
  std::uint64_t size() const { return src_.size(); }
  [[noreturn]] void fail(const std::string& msg) const {
    throw FormatError(what_ + ": " + msg + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(std::uint64_t n, const char* field) {
    if (n > remaining())
      throw FormatError(what_ + ": truncated: " + field + " needs " + std::to_string(n) + " bytes at offset " +
                        std::to_string(pos_) + " but only " + std::to_string(remaining()) + " remain (file size " +
                        std::to_string(src_.size()) + ")");
  }
  Source& src_;
  std::uint64_t pos_ = 0;
  const std::string& what_;
};

// The one envelope parser behind parse() and ContainerFile::open(): validates everything, hands
// each blob's (offset, length) to on_blob (after checking it fits), then the trailer.
template <class Source, class OnBlobCount, class OnBlob>
ContainerHeader parse_envelope(Source& src, const std::string& what, const ParseLimits& limits,
                               OnBlobCount&& on_blob_count, OnBlob&& on_blob) {
  Reader<Source> r(src, what);
  if (src.size() < 4 || std::memcmp(src.view(0, 4).data(), kMagic, 4) != 0)
    throw FormatError(what + ": not a leukocrypt container (magic 'LCX1' missing; " + std::to_string(src.size()) +
                      " bytes)");
  r.skip(4, "magic");
  auto version = r.template get<std::uint16_t>("version");
  if (version < kOldestVersion || version > kVersion)
    r.fail("unsupported container version " + std::to_string(version) + " (this build reads " +
           std::to_string(kOldestVersion) + " to " + std::to_string(kVersion) + ")");
  ContainerHeader h;
  auto kind = r.template get<std::uint16_t>("kind");
  if (kind < 1 || kind > 5) r.fail("unknown object kind " + std::to_string(kind));
  h.kind = static_cast<Kind>(kind);
  h.params_id = r.template get<std::uint64_t>("params id");
  h.key_id = r.str("key id", limits.max_string);
  h.model_id = r.str("model id", limits.max_string);
  h.cells = r.template get<std::uint32_t>("cell count");
  if (h.cells > limits.max_cells)
    r.fail("cell count " + std::to_string(h.cells) + " exceeds the limit " + std::to_string(limits.max_cells));
  if (version >= 2) {
    const auto packing = r.template get<std::uint8_t>("packing");
    if (packing > 1) r.fail("unknown packing " + std::to_string(packing) + " (0 = throughput, 1 = latency)");
    h.packing = static_cast<Packing>(packing);
  }
  auto n_names = r.template get<std::uint32_t>("name count");
  // Each name needs at least 4 bytes, so a count beyond remaining/4 is certainly truncated/garbage.
  if (n_names > limits.max_names || n_names > r.remaining() / 4)
    r.fail("name count " + std::to_string(n_names) + " is impossible for the remaining " +
           std::to_string(r.remaining()) + " bytes");
  h.names.reserve(n_names);
  for (std::uint32_t i = 0; i < n_names; ++i) h.names.push_back(r.str("cell name", limits.max_string));
  h.meta = r.str("meta", limits.max_string);
  auto n_blobs = r.template get<std::uint32_t>("blob count");
  if (n_blobs > limits.max_blobs || n_blobs > r.remaining() / 8)
    r.fail("blob count " + std::to_string(n_blobs) + " is impossible for the remaining " +
           std::to_string(r.remaining()) + " bytes");
  on_blob_count(n_blobs);
  for (std::uint32_t i = 0; i < n_blobs; ++i) {
    auto len = r.template get<std::uint64_t>("blob length");
    if (len > r.remaining())
      throw FormatError(what + ": truncated: blob " + std::to_string(i) + " of " + std::to_string(n_blobs) +
                        " declares " + std::to_string(len) + " bytes but only " + std::to_string(r.remaining()) +
                        " remain (file size " + std::to_string(r.size()) + ")");
    on_blob(r.pos(), len);
    r.skip(len, "blob");
  }
  auto trailer = r.bytes(4, "end marker");
  if (std::memcmp(trailer.data(), kTrailer, 4) != 0) r.fail("end marker 'END!' missing");
  if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the end marker");
  if (!h.names.empty() && h.names.size() != h.cells)
    throw FormatError(what + ": " + std::to_string(h.names.size()) + " cell names for " + std::to_string(h.cells) +
                      " cells");
  return h;
}

void put_header(std::string& out, const ContainerHeader& h, std::size_t n_blobs) {
  out.append(kMagic, 4);
  put<std::uint16_t>(out, kVersion);
  put<std::uint16_t>(out, static_cast<std::uint16_t>(h.kind));
  put<std::uint64_t>(out, h.params_id);
  put_str(out, h.key_id);
  put_str(out, h.model_id);
  put<std::uint32_t>(out, h.cells);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(h.packing));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(h.names.size()));
  for (auto& n : h.names) put_str(out, n);
  put_str(out, h.meta.empty() ? std::string_view("{}") : std::string_view(h.meta));
  require(n_blobs <= 0xffffffffu, "container: too many blobs");
  put<std::uint32_t>(out, static_cast<std::uint32_t>(n_blobs));
}

}  // namespace

const char* to_string(Packing packing) { return packing == Packing::kLatency ? "latency" : "throughput"; }

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::kEvalKeys: return "eval-keys";
    case Kind::kPublicKey: return "public-key";
    case Kind::kSecretKey: return "secret-key";
    case Kind::kRequest: return "request";
    case Kind::kResult: return "result";
  }
  return "unknown";
}

std::string serialize(const Container& c) {
  std::size_t total = 64 + c.key_id.size() + c.model_id.size() + c.meta.size();
  for (auto& n : c.names) total += 4 + n.size();
  for (auto& b : c.blobs) total += 8 + b.size();
  std::string out;
  out.reserve(total);
  put_header(out, c, c.blobs.size());
  for (auto& b : c.blobs) {
    put<std::uint64_t>(out, b.size());
    out.append(b);
  }
  out.append(kTrailer, 4);
  return out;
}

ContainerView parse(std::string_view bytes, const std::string& what, const ParseLimits& limits) {
  MemorySource src(bytes);
  ContainerView v;
  static_cast<ContainerHeader&>(v) = parse_envelope(
      src, what, limits, [&](std::size_t n) { v.blobs.reserve(n); },
      [&](std::uint64_t off, std::uint64_t len) {
        v.blobs.push_back(bytes.substr(static_cast<std::size_t>(off), static_cast<std::size_t>(len)));
      });
  return v;
}

ContainerFile ContainerFile::open(const std::filesystem::path& path, const std::string& what,
                                  const ParseLimits& limits) {
  ContainerFile f;
  f.path_ = path;
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd_ < 0) throw IoError(what + ": cannot open '" + path.string() + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd_, &st) != 0 || !S_ISREG(st.st_mode)) throw IoError(what + ": '" + path.string() + "' is not a file");
  f.file_size_ = static_cast<std::uint64_t>(st.st_size);
  FileSource src(f.fd_, f.file_size_, what);
  f.header_ = parse_envelope(
      src, what, limits,
      [&](std::size_t n) {
        f.offsets_.reserve(n);
        f.sizes_.reserve(n);
      },
      [&](std::uint64_t off, std::uint64_t len) {
        f.offsets_.push_back(off);
        f.sizes_.push_back(len);
      });
  return f;
}

ContainerFile::~ContainerFile() {
  if (fd_ >= 0) ::close(fd_);
}

ContainerFile::ContainerFile(ContainerFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), file_size_(o.file_size_),
      header_(std::move(o.header_)), offsets_(std::move(o.offsets_)), sizes_(std::move(o.sizes_)) {}

ContainerFile& ContainerFile::operator=(ContainerFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    file_size_ = o.file_size_;
    header_ = std::move(o.header_);
    offsets_ = std::move(o.offsets_);
    sizes_ = std::move(o.sizes_);
  }
  return *this;
}

std::uint64_t ContainerFile::payload_bytes() const {
  std::uint64_t n = 0;
  for (auto s : sizes_) n += s;
  return n;
}

std::string ContainerFile::read_blob(std::size_t i) const {
  require(i < offsets_.size(), "blob " + std::to_string(i) + " of " + std::to_string(offsets_.size()));
  std::string out(static_cast<std::size_t>(sizes_[i]), '\0');
  read_exact(fd_, out.data(), out.size(), offsets_[i], path_.string());
  return out;
}

ContainerWriter::ContainerWriter(const ContainerHeader& header, std::size_t blob_count, Sink sink)
    : sink_(std::move(sink)), expected_(blob_count) {
  std::string h;
  put_header(h, header, blob_count);
  emit(h);
}

void ContainerWriter::emit(std::string_view bytes) {
  sink_(bytes);
  written_ += bytes.size();
}

void ContainerWriter::add_blob(std::string_view blob) {
  require(!finished_ && added_ < expected_, "container writer: more blobs than the " + std::to_string(expected_) +
                                                " declared");
  std::string len;
  put<std::uint64_t>(len, blob.size());
  emit(len);
  emit(blob);
  ++added_;
}

void ContainerWriter::add_blob_parts(const std::vector<std::string>& parts) {
  require(!finished_ && added_ < expected_, "container writer: more blobs than the " + std::to_string(expected_) +
                                                " declared");
  std::uint64_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::string len;
  put<std::uint64_t>(len, total);
  emit(len);
  for (const auto& p : parts) emit(p);
  ++added_;
}

void ContainerWriter::finish() {
  require(!finished_ && added_ == expected_, "container writer: " + std::to_string(added_) + " blobs written, " +
                                                 std::to_string(expected_) + " declared");
  emit(std::string_view(kTrailer, 4));
  finished_ = true;
}

AtomicFile::AtomicFile(std::filesystem::path path, unsigned mode) : path_(std::move(path)) {
  tmp_ = path_;
  tmp_ += ".tmp-" + random_id().substr(0, 12);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd_ < 0) throw IoError("cannot create '" + tmp_.string() + "': " + std::strerror(errno));
  buf_.reserve(1 << 20);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::flush() {
  std::size_t done = 0;
  while (done < buf_.size()) {
    ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw IoError("cannot write '" + tmp_.string() + "': " + std::strerror(errno));
    done += static_cast<std::size_t>(w);
  }
  buf_.clear();
}

void AtomicFile::append(std::string_view bytes) {
  require(!committed_ && fd_ >= 0, "append to a committed file");
  size_ += bytes.size();
  if (buf_.size() + bytes.size() > (1u << 20)) flush();
  if (bytes.size() >= (1u << 20)) {
    buf_.assign(bytes);
    flush();
  } else {
    buf_.append(bytes);
  }
}

void AtomicFile::commit() {
  require(!committed_ && fd_ >= 0, "file already committed");
  flush();
  if (::fsync(fd_) != 0) throw IoError("cannot fsync '" + tmp_.string() + "': " + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw IoError("cannot rename '" + tmp_.string() + "' to '" + path_.string() + "': " + std::strerror(errno));
  committed_ = true;
}

ContainerView parse_as(std::string_view bytes, Kind expected, const std::string& what, const ParseLimits& limits) {
  auto v = parse(bytes, what, limits);
  if (v.kind != expected)
    throw FormatError(what + ": holds " + to_string(v.kind) + ", expected " + to_string(expected));
  return v;
}

std::size_t payload_bytes(const ContainerView& v) {
  std::size_t n = 0;
  for (auto b : v.blobs) n += b.size();
  return n;
}

std::string random_id() {
  unsigned char buf[16];
  std::size_t got = 0;
  while (got < sizeof buf) {
    ssize_t r = ::getrandom(buf + got, sizeof buf - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw IoError(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(r);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : buf) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

bool is_valid_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace leukocrypt::wire
