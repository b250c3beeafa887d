// Durable store for registered evaluation keys and jobs: SQLite (WAL, synchronous=FULL) for the
// metadata, one file per payload (keys, requests, results can be gigabytes — far beyond what
// belongs in a database row) in `<db>.blobs/`. Payload files are written to a temporary name,
// fsynced, renamed and the directory fsynced before the row that names them is committed, so an
// accepted job survives `kill -9` or power loss. Thread-safe (one connection behind a mutex;
// every call is short).
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/job_runner.h"

struct sqlite3;

namespace leukocrypt::service {

enum class JobState { kPending, kRunning, kDone, kFailed };
const char* to_string(JobState s);

struct JobRecord {
  std::string id;
  std::string owner;
  std::string key_id;
  std::string model_id;
  JobState state = JobState::kPending;
  std::uint32_t cells = 0;
  std::uint64_t request_bytes = 0;
  std::uint64_t result_bytes = 0;
  double created = 0, started = 0, finished = 0;  // unix seconds; 0 = not yet
  int attempts = 0;                                // times a worker started it (restarts count)
  std::string error;
  nlohmann::json timings = nlohmann::json::object();  // stage -> seconds, from the runner
  nlohmann::json info = nlohmann::json::object();

  nlohmann::json to_json() const;  // the public view served by GET /v1/jobs/{id}
};

struct StoredKey {
  std::string owner;
  KeyInfo info;
  std::uint64_t bytes = 0;
  double created = 0;
};

class JobStore {
 public:
  // Opens or creates the database (and `<db>.blobs/`). Throws IoError.
  explicit JobStore(const std::filesystem::path& db_path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  enum class PutKeyResult { kCreated, kExisting };
  // Registers keys for `owner`. The same id with identical bytes is idempotent (kExisting); the
  // same id with different bytes throws InvalidArgument (key ids are immutable).
  PutKeyResult put_key(const std::string& owner, const KeyInfo& info, std::string_view bytes);
  std::optional<StoredKey> find_key(const std::string& owner, const std::string& key_id);
  std::vector<StoredKey> list_keys(const std::string& owner);
  std::string read_key(const std::string& owner, const std::string& key_id);
  // The stored key container's file (its header can be read without the keys: ContainerFile).
  std::filesystem::path key_path(const std::string& owner, const std::string& key_id);

  // Stores the request durably and commits a pending job; returns the new job id.
  std::string create_job(const std::string& owner, const RequestInfo& info, std::string_view request);
  // A fresh path in the payload directory for an upload being received ("upload-*.part"): the
  // caller streams into it, validates it, then hands it to create_job_from_file or deletes it.
  std::filesystem::path new_upload_path() const;
  // Makes a received upload the request of a new pending job: fsyncs it, renames it into place,
  // fsyncs the directory, then commits the row. Returns the job id.
  std::string create_job_from_file(const std::string& owner, const RequestInfo& info,
                                   const std::filesystem::path& upload);
  // Startup: deletes uploads that a killed process was still receiving. Returns how many.
  std::size_t remove_partial_uploads();
  // Number of upload files present (tests: a failed upload leaves none).
  std::size_t count_partial_uploads() const;
  // The job if it exists AND belongs to owner.
  std::optional<JobRecord> find_job(const std::string& owner, const std::string& id);
  std::optional<JobRecord> get_job(const std::string& id);  // any owner (workers)

  // Atomically moves the oldest pending job to running (attempts + 1) and returns it.
  std::optional<JobRecord> claim_next();
  void finish_job(const std::string& id, std::string_view result, const nlohmann::json& timings,
                  const nlohmann::json& info);
  void fail_job(const std::string& id, const std::string& error);
  // Startup recovery: jobs left running by a crashed process go back to pending. Returns count.
  int requeue_running();

  std::size_t count_queued();                          // pending + running, all owners
  std::size_t count_queued(const std::string& owner);  // pending + running, one owner
  std::string read_request(const std::string& id);
  std::filesystem::path request_path(const std::string& id) const;
  std::string read_result(const std::string& id);

  const std::filesystem::path& db_path() const { return db_path_; }

 private:
  void exec(const char* sql);
  std::filesystem::path blob_path(const std::string& name) const;
  void write_blob(const std::string& name, std::string_view bytes);

  std::filesystem::path db_path_;
  std::filesystem::path blob_dir_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace leukocrypt::service
