// Payloads as files in one directory (see blob_store.h).
#include "service/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/paths.h"
#include "service/disk_writer.h"
#include "service/wire/container.h"

namespace leukocrypt::service {

namespace {
constexpr const char* kUploadPrefix = "upload-";
constexpr const char* kUploadSuffix = ".part";
}  // namespace

bool is_staged_upload(const std::filesystem::path& file) {
  return file.filename().string().rfind(kUploadPrefix, 0) == 0 && file.extension() == kUploadSuffix;
}

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

namespace {

// An upload file in the payload directory (mode 0600), written through a 1 MiB buffer; commit()
// fsyncs it (only then: a refused upload is never synced) and renames it to its name; deleted on
// destruction otherwise.
class DirectoryUpload final : public BlobUpload {
 public:
  DirectoryUpload(const DirectoryBlobStore& store, std::filesystem::path path) : store_(store), path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) throw IoError("cannot create upload file: " + std::string(std::strerror(errno)));
    buf_.reserve(kBuffer);
  }
  ~DirectoryUpload() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  DirectoryUpload(const DirectoryUpload&) = delete;
  DirectoryUpload& operator=(const DirectoryUpload&) = delete;

  void append(const char* data, std::size_t n) override {
    buf_.append(data, n);
    size_ += n;
    if (buf_.size() >= kBuffer) flush();
  }
  void close() override { flush(); }  // readable now; made durable by commit()
  const std::filesystem::path& local_path() const override { return path_; }
  std::uint64_t size() const override { return size_; }
  void commit(const std::string& name) override {
    flush();
    if (::fsync(fd_) != 0) throw IoError("cannot fsync the upload: " + std::string(std::strerror(errno)));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw IoError("cannot close upload file: " + std::string(std::strerror(errno)));
    if (::rename(path_.c_str(), store_.local_path(name).c_str()) != 0)
      throw IoError("payload store: cannot move the upload into place: " + std::string(std::strerror(errno)));
    committed_ = true;
    fsync_directory(store_.dir());
  }

 private:
  static constexpr std::size_t kBuffer = 1 << 20;
  void flush() {
    write_all(fd_, buf_.data(), buf_.size(), "the upload");
    buf_.clear();
  }
  const DirectoryBlobStore& store_;
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buf_;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace

std::unique_ptr<BlobUpload> DirectoryBlobStore::begin_upload() {
  return std::make_unique<DirectoryUpload>(*this, local_path(kUploadPrefix + wire::random_id() + kUploadSuffix));
}

}  // namespace leukocrypt::service
