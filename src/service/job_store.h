// Durable store for registered evaluation keys and jobs: SQL for the metadata — SQLite (WAL,
// synchronous=FULL; one machine) or PostgreSQL (`postgresql://...`; shared by many nodes), see
// sql_database.h — and one file per payload (keys, requests, results can be gigabytes — far beyond what
// belongs in a database row) in `<db>.blobs/`. Payload files are written to a temporary name,
// fsynced, renamed and the directory fsynced before the row that names them is committed, so an
// accepted job survives `kill -9` or power loss. Thread-safe (SQLite: one connection behind a
// mutex; PostgreSQL: a small connection pool; every call is short). The schema is versioned
// (table schema_version) and migrated at open.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/blob_store.h"
#include "service/disk_writer.h"
#include "service/job_runner.h"

#include "service/sql_database.h"

namespace leukocrypt::service {

// validating: received, waiting for the full check (off the HTTP threads); pending: valid, queued.
enum class JobState { kValidating, kPending, kRunning, kDone, kFailed };
const char* to_string(JobState s);

// One task of a split job (see JobStore::split_job): a claim of it is a JobRecord with `task` set,
// `worker`/`lease_until` then being the task's.
struct TaskRef {
  std::size_t index = 0, count = 1;
  int attempts = 0;   // times a worker started this task
  std::string error;  // why it was last handed back (lease lapsed)
};

// What a finished task left for the assembly, and what the assembly makes of them.
struct TaskOutput {
  std::string part;
  nlohmann::json timings = nlohmann::json::object();
  nlohmann::json info = nlohmann::json::object();
};
struct AssembledResult {
  std::string result;
  nlohmann::json timings = nlohmann::json::object();
  nlohmann::json info = nlohmann::json::object();
};

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
  std::string error_code;                          // machine-readable, e.g. "invalid_request"
  nlohmann::json timings = nlohmann::json::object();  // stage -> seconds, from the runner
  nlohmann::json info = nlohmann::json::object();
  std::string worker;        // who holds the claim while running ("" for unleased claims)
  double lease_until = 0;    // the claim lapses after this (unix seconds); 0 = never (one process)
  std::string result_file;   // the result's payload file once done
  std::optional<TaskRef> task;  // a claim of one task of a split job (claim_task), else the whole job

  nlohmann::json to_json() const;  // the public view served by GET /v1/jobs/{id}
};

struct StoredKey {
  std::string owner;
  KeyInfo info;
  std::uint64_t bytes = 0;
  double created = 0;
};

// Where a store lives: `db` is a SQLite file or a PostgreSQL URL; `blobs` the payload directory
// (default for SQLite: `<db>.blobs`; required for PostgreSQL, since the nodes that share the
// database must share it too).
struct StoreConfig {
  std::string db;
  std::filesystem::path blobs;
  // Shared stores: payload files younger than this are never collected as orphans (another node
  // may be between writing one and committing its row).
  double shared_grace_seconds = 15 * 60;
  StoreConfig(const std::filesystem::path& sqlite_path) : db(sqlite_path.string()) {}  // NOLINT: implicit
  StoreConfig(const char* d) : db(d) {}                                                 // NOLINT: implicit
  StoreConfig(std::string d, std::filesystem::path b = {}) : db(std::move(d)), blobs(std::move(b)) {}
  bool is_postgres() const { return is_postgres_url(db); }
};

class JobStore {
 public:
  // kExclusive: one process at a time (SQLite: an flock on `<db>.lock`; PostgreSQL: a session
  // advisory lock; both held while the store is open and dropped when the process dies); a
  // second server on the same database is refused with IoError.
  // kShared: no lock (tests of cross-process claims; tools that only read).
  enum class Access { kExclusive, kShared };
  // Opens or creates the database (and the payload directory), migrating the schema. Throws IoError.
  explicit JobStore(const StoreConfig& config, Access access = Access::kExclusive);
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
  // A new upload being received (BlobStore::begin_upload): the caller streams into it, checks it
  // at its local_path(), then hands it to create_job_from_upload or drops it.
  std::unique_ptr<BlobUpload> begin_upload();
  // Makes a received upload the request of a new job: commits it under the job's request name
  // (durable), then commits the row. Returns the job id.
  // `initial` is kValidating for uploads not yet fully checked (see mark_validated).
  std::string create_job_from_upload(const std::string& owner, const RequestInfo& info, BlobUpload& upload,
                                     JobState initial = JobState::kPending);
  // A validating job passed the full check (in `seconds`, kept as timings stage "validate"): it
  // becomes pending. False if it is no longer validating.
  bool mark_validated(const std::string& id, const RequestInfo& info, double seconds);
  // Shared stores: a node takes (or, for an upload it received, confirms) the full check of a
  // validating job for `lease_seconds`; false when another node holds it. A job whose check was
  // never finished (its node died) may be taken by any node once it is lease_seconds old and its
  // last check's lease lapsed: claim_validation returns such a job's id. Checks are idempotent
  // (mark_validated and reject_job change only validating jobs), so a lapsed check that still ends
  // does no harm.
  bool start_validation(const std::string& id, const std::string& node, double lease_seconds);
  std::optional<std::string> claim_validation(const std::string& node, double lease_seconds);
  // A validating job failed the full check: failed with a machine-readable code.
  void reject_job(const std::string& id, const std::string& code, const std::string& error);
  // Ids of the jobs in `state`, oldest first (startup: validations a stopped server left).
  std::vector<std::string> job_ids(JobState state);
  // Startup: deletes uploads that a killed process was still receiving. Returns how many.
  std::size_t remove_partial_uploads();
  // Number of upload files present (tests: a failed upload leaves none).
  std::size_t count_partial_uploads() const;
  // The job if it exists AND belongs to owner.
  std::optional<JobRecord> find_job(const std::string& owner, const std::string& id);
  std::optional<JobRecord> get_job(const std::string& id);  // any owner (workers)

  // Atomically moves the oldest pending job to running (attempts + 1) for `worker` and returns it.
  // SQLite: a conditional UPDATE (... WHERE state='pending') whose affected-row count is checked;
  // PostgreSQL: UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED). Either way two
  // processes on one database never run the same job. lease_seconds > 0: the claim lapses unless
  // renewed (renew_lease), and requeue_expired() hands the job to another worker.
  std::optional<JobRecord> claim_next(const std::string& worker = "", double lease_seconds = 0);
  // Heartbeat: extends `worker`'s claim. False when the claim is gone (expired and re-claimed,
  // deleted): the worker must stop the job and drop its result.
  bool renew_lease(const std::string& id, const std::string& worker, double lease_seconds);
  // A worker gives its claim back (stopping): the job is pending again at once (attempts kept, so
  // a job that keeps stopping its workers still ends as poison). False if `worker` held no claim.
  bool release_claim(const std::string& id, const std::string& worker);
  // Running jobs whose lease lapsed go back to pending (the reason kept in `error` until they
  // finish). Returns how many. Any node may call it at any time.
  int requeue_expired();
  // Stores the result and marks the job done, if `worker` still holds it. False (and no result
  // file left) when the job is no longer running for `worker` (deleted, or its lease lapsed and
  // another worker claimed it). StorageFull when the disk is full (nothing left either).
  bool finish_job(const std::string& id, std::string_view result, const nlohmann::json& timings,
                  const nlohmann::json& info, const std::string& worker = "");
  void fail_job(const std::string& id, const std::string& error, const std::string& code = "");
  // fail_job for a worker: only while `worker` still holds the claim. False otherwise.
  bool fail_claimed_job(const std::string& id, const std::string& worker, const std::string& error,
                        const std::string& code = "");

  // Tasks (schema v4). A worker that claimed a whole job may split it: `count` pending tasks are
  // inserted and the job stays running without a lease of its own (its tasks hold the leases) —
  // one transaction, only while `worker` holds the job. False when it no longer does.
  bool split_job(const std::string& id, const std::string& worker, std::size_t count);
  // Claims the oldest pending task of a running (split) job for `worker`, like claim_next: row
  // locks (FOR UPDATE SKIP LOCKED) on PostgreSQL, a conditional UPDATE on SQLite.
  std::optional<JobRecord> claim_task(const std::string& worker, double lease_seconds);
  // Heartbeat of a task claim; false when the claim or its job is gone (deleted, failed, lapsed).
  bool renew_task(const JobRecord& claim, double lease_seconds);
  // A stopping worker hands its task back (pending again, attempts kept).
  bool release_task(const JobRecord& claim);
  enum class TaskFinish { kLost, kStored, kAssembled };
  // Stores a task's part, if the claim still holds. In the same transaction, with the job's row
  // locked (PostgreSQL: SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE), the task that finds
  // every task of its job done calls `assemble` with the parts in task order, stores the result and
  // marks the job done: exactly one task assembles a job, and only once. kLost: the claim was gone
  // (nothing stored); kStored: other tasks remain; kAssembled: this call finished the job.
  TaskFinish finish_task(const JobRecord& claim, std::string_view part, const nlohmann::json& timings,
                         const nlohmann::json& info,
                         const std::function<AssembledResult(const std::vector<TaskOutput>&)>& assemble);
  // A task failed (or was poison): its job fails with the reason, while the claim holds. Its
  // other tasks are dropped; their workers notice at their next heartbeat or finish.
  bool fail_claimed_task(const JobRecord& claim, const std::string& error, const std::string& code = "");
  // Tasks of a job that are done, and how many it has (0, 0 when it was not split).
  std::pair<std::size_t, std::size_t> task_progress(const std::string& id);

  // Retention. Rows go first, then their files: a crash in between leaves only orphan files,
  // which remove_orphans() collects at the next start.
  // Deletes one of owner's jobs (any state; a running one's result is dropped when it finishes).
  // Returns the state it had, nullopt if owner has no such job.
  std::optional<JobState> delete_job(const std::string& owner, const std::string& id);
  enum class DeleteKeyResult { kDeleted, kNotFound, kInUse };
  // kInUse while an unfinished job of owner uses the key.
  DeleteKeyResult delete_key(const std::string& owner, const std::string& key_id);
  // Deletes done and failed jobs that finished before `before` (unix seconds). Returns how many.
  std::size_t expire_finished(double before);
  // A few hundred KiB kept allocated in `<db>.blobs/.reserve` so that deleting still works on a
  // full disk (SQLite must append to its WAL to delete a row): a delete that hits StorageFull
  // releases the reserve and retries; the reserve is re-made once space is back. Called at open,
  // after deletes and by the retention sweep; false while it cannot be made.
  bool ensure_reserve();
  static constexpr std::size_t kReserveBytes = std::size_t(256) << 10;

  // Startup: deletes payload files no row names (a kill -9 between rename and INSERT, a delete cut
  // short), results of jobs that are not done, and temporary files. Returns how many.
  std::size_t remove_orphans();
  // Startup recovery of a single-process store (SQLite): jobs left running by a crashed process go
  // back to pending. Returns count. Shared stores use leases instead (requeue_expired).
  int requeue_running();
  // True when other processes may use the database at the same time (PostgreSQL: API nodes and
  // workers); startup recovery is then lease-based and keeps young files (see remove_orphans).
  bool shared() const { return db_->dialect() == SqlDatabase::Dialect::kPostgres; }

  // What GET /metrics reports from the store (every node sees the same): jobs by state, tasks by
  // state, failed jobs by error code, and run seconds of the done jobs (still retained).
  struct Metrics {
    std::vector<std::pair<std::string, std::int64_t>> jobs_by_state, tasks_by_state, failed_by_code;
    std::int64_t done_jobs = 0;
    double done_run_seconds = 0;
    std::int64_t done_cells = 0;
  };
  Metrics metrics();
  std::size_t count_queued();                          // validating + pending + running, all owners
  std::size_t count_queued(const std::string& owner);  // validating + pending + running, one owner
  std::uint64_t queued_cells(const std::string& owner);  // cells of one owner's unfinished jobs
  std::size_t count_keys(const std::string& owner);
  std::string read_request(const std::string& id);
  std::filesystem::path request_path(const std::string& id) const;
  static std::string request_name(const std::string& id);  // the request's name in the payload store
  std::string read_result(const std::string& id);

  const std::filesystem::path& db_path() const { return db_path_; }  // SQLite file; empty for PostgreSQL
  const std::filesystem::path& blob_dir() const { return blob_dir_; }
  SqlDatabase::Dialect dialect() const { return db_->dialect(); }
  // The schema version this build writes (schema_version holds what a database has).
  static int schema_version();

 private:
  SqlResult run(const std::string& sql, const std::vector<SqlValue>& params = {});
  void migrate();
  std::filesystem::path blob_path(const std::string& name) const;
  void write_blob(const std::string& name, std::string_view bytes);
  void remove_blob(const std::string& name);
  // Deletes a job's task rows and their parts (deleted, failed or expired jobs).
  void remove_tasks(const std::string& id);
  std::optional<JobRecord> claimed_task(SqlSession& s, const SqlResult& task_row);
  std::optional<JobState> delete_job_now(const std::string& owner, const std::string& id);
  DeleteKeyResult delete_key_now(const std::string& owner, const std::string& key_id);
  std::size_t expire_finished_now(double before);
  // Runs f (a delete); on StorageFull releases the reserve and runs it once more; then re-makes it.
  template <class F>
  auto with_reserve(F&& f);

  void lock_exclusively();
  void lock_postgres_exclusively();
  bool too_young_to_collect(const std::filesystem::directory_entry& e) const;

  std::filesystem::path db_path_;
  std::filesystem::path blob_dir_;
  int lock_fd_ = -1;
  void* lock_conn_ = nullptr;  // PostgreSQL: the connection holding the advisory lock (PGconn*)
  std::unique_ptr<SqlDatabase> db_;
  std::unique_ptr<BlobStore> blobs_;  // the payloads (DirectoryBlobStore on blob_dir_)
  double grace_seconds_;
};

}  // namespace leukocrypt::service
