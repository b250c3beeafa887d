// Where the payloads (keys, requests, task parts, results) live, by name: a small interface so the
// job store does not care whether they are files or objects. DirectoryBlobStore (the default) keeps
// them as files in one directory — local, or a network file system mounted on every node — each put
// atomically: temporary name, fsync, rename, fsync of the directory. An object store implements the
// same calls; readers that need random access to a large payload (wire::ContainerFile) use
// local_path(), which an object store would answer from a local cache. Large uploads arrive in
// pieces through begin_upload(): staged, checked, then committed under their name (an object store
// stages in a local file and uploads at commit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace leukocrypt::service {

// A payload arriving in pieces (a request of gigabytes). Dropped when destroyed uncommitted.
class BlobUpload {
 public:
  virtual ~BlobUpload() = default;
  virtual void append(const char* data, std::size_t n) = 0;  // StorageFull / IoError
  // Every byte written: local_path() may now be read (the server checks the request there).
  virtual void close() = 0;
  virtual const std::filesystem::path& local_path() const = 0;
  virtual std::uint64_t size() const = 0;
  // Whole and durable under `name` when it returns; the upload is then no longer dropped.
  virtual void commit(const std::string& name) = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // A new staged upload (directory store: "upload-<id>.part", swept at startup when a killed
  // process left it).
  virtual std::unique_ptr<BlobUpload> begin_upload() = 0;
  // Whole or absent, durable when it returns. StorageFull on a full disk, IoError otherwise.
  virtual void put(const std::string& name, std::string_view bytes) = 0;
  virtual std::string get(const std::string& name) const = 0;  // IoError when absent
  virtual void remove(const std::string& name) noexcept = 0;   // absent: nothing to do
  virtual std::filesystem::path local_path(const std::string& name) const = 0;
};

class DirectoryBlobStore : public BlobStore {
 public:
  explicit DirectoryBlobStore(std::filesystem::path dir);  // creates it; IoError if it cannot
  std::unique_ptr<BlobUpload> begin_upload() override;
  void put(const std::string& name, std::string_view bytes) override;
  std::string get(const std::string& name) const override;
  void remove(const std::string& name) noexcept override;
  std::filesystem::path local_path(const std::string& name) const override { return dir_ / name; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// Whether a file name is one of DirectoryBlobStore's staged uploads ("upload-<id>.part"): what the
// startup sweep collects when a killed process left it.
bool is_staged_upload(const std::filesystem::path& file);

// fsync of a directory (after a rename into it); errors ignored (nothing left to undo).
void fsync_directory(const std::filesystem::path& dir);

}  // namespace leukocrypt::service
