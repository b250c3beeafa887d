// `.lcx` envelope: serialization and validating parser (see container.h for the layout).
#include "service/wire/container.h"

#include <sys/random.h>

#include <cerrno>
#include <cctype>
#include <cstring>

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

// Bounds-checked reader over untrusted bytes; every failure names the source and the field.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& what) : b_(bytes), what_(what) {}

  template <class T>
  T get(const char* field) {
    need(sizeof(T), field);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::string_view bytes(std::size_t n, const char* field) {
    need(n, field);
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string str(const char* field, std::size_t max) {
    auto n = get<std::uint32_t>(field);
    if (n > max) fail(std::string(field) + " length " + std::to_string(n) + " exceeds the limit " + std::to_string(max));
    return std::string(bytes(n, field));
  }
  std::size_t remaining() const { return b_.size() - pos_; }
  std::size_t pos() const { return pos_; }
  [[noreturn]] void fail(const std::string& msg) const {
    throw FormatError(what_ + ": " + msg + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(std::size_t n, const char* field) {
    if (n > remaining())
      throw FormatError(what_ + ": truncated: " + field + " needs " + std::to_string(n) + " bytes at offset " +
                        std::to_string(pos_) + " but only " + std::to_string(remaining()) + " remain (file size " +
                        std::to_string(b_.size()) + ")");
  }
  std::string_view b_;
  std::size_t pos_ = 0;
  const std::string& what_;
};

}  // namespace

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
  out.append(kMagic, 4);
  put<std::uint16_t>(out, kVersion);
  put<std::uint16_t>(out, static_cast<std::uint16_t>(c.kind));
  put<std::uint64_t>(out, c.params_id);
  put_str(out, c.key_id);
  put_str(out, c.model_id);
  put<std::uint32_t>(out, c.cells);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(c.names.size()));
  for (auto& n : c.names) put_str(out, n);
  put_str(out, c.meta.empty() ? std::string_view("{}") : std::string_view(c.meta));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(c.blobs.size()));
  for (auto& b : c.blobs) {
    put<std::uint64_t>(out, b.size());
    out.append(b);
  }
  out.append(kTrailer, 4);
  return out;
}

ContainerView parse(std::string_view bytes, const std::string& what, const ParseLimits& limits) {
  Reader r(bytes, what);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kMagic, 4) != 0)
    throw FormatError(what + ": not a leukocrypt container (magic 'LCX1' missing; " + std::to_string(bytes.size()) +
                      " bytes)");
  r.bytes(4, "magic");
  auto version = r.get<std::uint16_t>("version");
  if (version != kVersion)
    r.fail("unsupported container version " + std::to_string(version) + " (this build reads " +
           std::to_string(kVersion) + ")");
  ContainerView v;
  auto kind = r.get<std::uint16_t>("kind");
  if (kind < 1 || kind > 5) r.fail("unknown object kind " + std::to_string(kind));
  v.kind = static_cast<Kind>(kind);
  v.params_id = r.get<std::uint64_t>("params id");
  v.key_id = r.str("key id", limits.max_string);
  v.model_id = r.str("model id", limits.max_string);
  v.cells = r.get<std::uint32_t>("cell count");
  if (v.cells > limits.max_cells)
    r.fail("cell count " + std::to_string(v.cells) + " exceeds the limit " + std::to_string(limits.max_cells));
  auto n_names = r.get<std::uint32_t>("name count");
  // Each name needs at least 4 bytes, so a count beyond remaining/4 is certainly truncated/garbage.
  if (n_names > limits.max_names || n_names > r.remaining() / 4)
    r.fail("name count " + std::to_string(n_names) + " is impossible for the remaining " +
           std::to_string(r.remaining()) + " bytes");
  v.names.reserve(n_names);
  for (std::uint32_t i = 0; i < n_names; ++i) v.names.push_back(r.str("cell name", limits.max_string));
  v.meta = r.str("meta", limits.max_string);
  auto n_blobs = r.get<std::uint32_t>("blob count");
  if (n_blobs > limits.max_blobs || n_blobs > r.remaining() / 8)
    r.fail("blob count " + std::to_string(n_blobs) + " is impossible for the remaining " +
           std::to_string(r.remaining()) + " bytes");
  v.blobs.reserve(n_blobs);
  for (std::uint32_t i = 0; i < n_blobs; ++i) {
    auto len = r.get<std::uint64_t>("blob length");
    if (len > r.remaining())
      throw FormatError(what + ": truncated: blob " + std::to_string(i) + " of " + std::to_string(n_blobs) +
                        " declares " + std::to_string(len) + " bytes but only " + std::to_string(r.remaining()) +
                        " remain (file size " + std::to_string(bytes.size()) + ")");
    v.blobs.push_back(r.bytes(static_cast<std::size_t>(len), "blob"));
  }
  auto trailer = r.bytes(4, "end marker");
  if (std::memcmp(trailer.data(), kTrailer, 4) != 0) r.fail("end marker 'END!' missing");
  if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the end marker");
  if (!v.names.empty() && v.names.size() != v.cells)
    throw FormatError(what + ": " + std::to_string(v.names.size()) + " cell names for " + std::to_string(v.cells) +
                      " cells");
  return v;
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
