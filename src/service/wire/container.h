// The `.lcx` container: one versioned, validated envelope for every object that travels between the
// key holder and the provider (evaluation keys, encrypted requests, encrypted results) and for the
// key holder's own key files. The header names what the payload is for (params id, key id, model
// id, cell count and names); the payload is a list of opaque blobs, each an HE-serialized object
// that the receiver validates with the HE loaders. Shared by lc_client and lc_service (lc_wire
// links nothing that can hold a secret key).
//
// Layout (little endian):
//   "LCX1" | u16 version | u16 kind | u64 params_id | str key_id | str model_id | u32 cells |
//   u8 packing (version 2 only) |
//   u32 n_names, n × str | str meta (JSON text) | u32 n_blobs, n × (u64 length, bytes) | "END!"
//   str = u32 length + bytes.  Nothing may follow the trailer. Version 1 (no packing byte) is
//   still read, as the throughput packing; writers write version 2.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace leukocrypt::wire {

inline constexpr char kMagic[4] = {'L', 'C', 'X', '1'};
inline constexpr std::uint16_t kVersion = 2;
inline constexpr std::uint16_t kOldestVersion = 1;

// How the cells of a request/result are packed (the model's plan layout): throughput = CryptoNets,
// one ciphertext per value with one cell per slot; latency = each cell's values in the slots of
// one ciphertext, several cells side by side. Keys and key files use kThroughput (no meaning).
enum class Packing : std::uint8_t { kThroughput = 0, kLatency = 1 };
const char* to_string(Packing packing);

enum class Kind : std::uint16_t {
  kEvalKeys = 1,   // public evaluation keys (relinearisation, Galois): sent to the provider
  kPublicKey = 2,  // public encryption key: stays with the key holder (or whoever encrypts)
  kSecretKey = 3,  // the secret key: never leaves the key holder; the service refuses it
  kRequest = 4,    // encrypted input batch for one key id and model
  kResult = 5,     // encrypted output (logits) for one request
};

const char* to_string(Kind kind);

// Limits applied while parsing untrusted bytes (before any allocation they bound).
struct ParseLimits {
  std::size_t max_string = 1 << 16;       // key id, model id, meta, each name
  std::size_t max_names = 1 << 20;
  std::size_t max_blobs = 1 << 22;
  std::uint32_t max_cells = 1u << 24;
};

// Header fields of a container (everything before the blobs), written once and shared by the
// in-memory view, the owning container and the on-disk file. serialize() and the writers write an
// empty meta as "{}".
struct ContainerHeader {
  Kind kind = Kind::kRequest;
  std::uint64_t params_id = 0;
  std::string key_id;
  std::string model_id;
  std::uint32_t cells = 0;
  Packing packing = Packing::kThroughput;
  std::vector<std::string> names;
  std::string meta = "{}";  // JSON text
};

// Header plus blobs viewing into caller-owned bytes (no copy of the large payload).
struct ContainerView : ContainerHeader {
  std::vector<std::string_view> blobs;
};

// An owning container for building and writing.
struct Container : ContainerHeader {
  std::vector<std::string> blobs;
};

std::string serialize(const Container& c);

// Parses and validates the envelope (magic, version, kind, every length against the remaining
// bytes and the limits, trailer, no trailing bytes). `what` names the source in error messages
// ("request body", "keys/eval.key"). Throws FormatError. Blobs are NOT interpreted here.
ContainerView parse(std::string_view bytes, const std::string& what, const ParseLimits& limits = {});

// A container on disk read on demand: open() validates the envelope exactly as parse() does
// (reading the header and every blob length, skipping the blob bytes), then blobs are read one at
// a time with pread, so a multi-gigabyte request never has to be in memory at once. Thread-safe
// for concurrent read_blob calls.
class ContainerFile {
 public:
  // Throws FormatError (bad envelope; `what` names the source) or IoError (cannot read).
  static ContainerFile open(const std::filesystem::path& path, const std::string& what,
                            const ParseLimits& limits = {});
  ~ContainerFile();
  ContainerFile(ContainerFile&&) noexcept;
  ContainerFile& operator=(ContainerFile&&) noexcept;
  ContainerFile(const ContainerFile&) = delete;
  ContainerFile& operator=(const ContainerFile&) = delete;

  const ContainerHeader& header() const { return header_; }
  Kind kind() const { return header_.kind; }
  std::size_t blob_count() const { return offsets_.size(); }
  std::uint64_t blob_size(std::size_t i) const { return sizes_.at(i); }
  std::uint64_t payload_bytes() const;
  std::uint64_t file_size() const { return file_size_; }
  const std::filesystem::path& path() const { return path_; }
  // Blob i's bytes (IoError if the file changed underneath).
  std::string read_blob(std::size_t i) const;

 private:
  ContainerFile() = default;
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  ContainerHeader header_;
  std::vector<std::uint64_t> offsets_, sizes_;
};

// Writes a container front to back without holding its blobs: the header and the blob count go
// first, then each blob as it is produced, then the trailer. The sink receives the bytes in order.
class ContainerWriter {
 public:
  using Sink = std::function<void(std::string_view)>;
  ContainerWriter(const ContainerHeader& header, std::size_t blob_count, Sink sink);
  void add_blob(std::string_view blob);
  // One blob given as consecutive parts (its length is their sum): a blob assembled from pieces
  // made separately is written without joining them first.
  void add_blob_parts(const std::vector<std::string>& parts);
  // Writes the trailer; InvalidArgument unless exactly blob_count blobs were added.
  void finish();
  std::uint64_t bytes_written() const { return written_; }

 private:
  void emit(std::string_view bytes);
  Sink sink_;
  std::size_t expected_ = 0, added_ = 0;
  std::uint64_t written_ = 0;
  bool finished_ = false;
};

// A file written through a temporary name: commit() fsyncs and renames it into place; destroying
// an uncommitted AtomicFile removes the temporary. append() buffers (1 MiB) and throws IoError.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path, unsigned mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void append(std::string_view bytes);
  void commit();
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& temp_path() const { return tmp_; }

 private:
  void flush();
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  std::string buf_;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

// Parses and additionally requires a specific kind.
ContainerView parse_as(std::string_view bytes, Kind expected, const std::string& what,
                       const ParseLimits& limits = {});

// Total bytes of all blobs (payload size, for bytes-per-cell reports).
std::size_t payload_bytes(const ContainerView& v);

// 16-byte random identifier as 32 lowercase hex characters (key ids, job ids).
std::string random_id();

// True if s is a plausible id: 1..64 characters of [0-9a-zA-Z_-].
bool is_valid_id(std::string_view s);

}  // namespace leukocrypt::wire
