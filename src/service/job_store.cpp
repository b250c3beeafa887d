// SQLite job/key store with durable payload files (see job_store.h).
#include "service/job_store.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/paths.h"
#include "service/postgres_database.h"
#include "service/sqlite_database.h"
#include "service/wire/container.h"

namespace leukocrypt::service {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr const char* kJobColumns =
    "id, owner, key_id, model_id, state, cells, request_bytes, result_bytes, created, started, finished, "
    "attempts, error, timings, info, error_code, worker, lease_until, result_file";

// The states whose jobs still cost work (quotas count them).
constexpr const char* kUnfinished = "('validating','pending','running')";

JobState state_from_string(const std::string& s) {
  if (s == "validating") return JobState::kValidating;
  if (s == "pending") return JobState::kPending;
  if (s == "running") return JobState::kRunning;
  if (s == "done") return JobState::kDone;
  return JobState::kFailed;
}

JobRecord read_job(const SqlResult& r, std::size_t row = 0) {
  struct Row {
    const SqlResult& r;
    std::size_t i;
    std::string text(std::size_t c) const { return r.text(i, c); }
    std::int64_t i64(std::size_t c) const { return r.i64(i, c); }
    double f64(std::size_t c) const { return r.f64(i, c); }
  } st{r, row};
  JobRecord j;
  j.id = st.text(0);
  j.owner = st.text(1);
  j.key_id = st.text(2);
  j.model_id = st.text(3);
  j.state = state_from_string(st.text(4));
  j.cells = static_cast<std::uint32_t>(st.i64(5));
  j.request_bytes = static_cast<std::uint64_t>(st.i64(6));
  j.result_bytes = static_cast<std::uint64_t>(st.i64(7));
  j.created = st.f64(8);
  j.started = st.f64(9);
  j.finished = st.f64(10);
  j.attempts = static_cast<int>(st.i64(11));
  j.error = st.text(12);
  j.timings = nlohmann::json::parse(st.text(13), nullptr, false);
  if (j.timings.is_discarded()) j.timings = nlohmann::json::object();
  j.info = nlohmann::json::parse(st.text(14), nullptr, false);
  if (j.info.is_discarded()) j.info = nlohmann::json::object();
  j.error_code = st.text(15);
  j.worker = st.text(16);
  j.lease_until = st.f64(17);
  j.result_file = st.text(18);
  return j;
}

// The columns read_key_row reads, in its order.
constexpr const char* kKeyColumns = "owner, key_id, params_id, bytes, created";

StoredKey read_key_row(const SqlResult& r, std::size_t i) {
  StoredKey k;
  k.owner = r.text(i, 0);
  k.info.key_id = r.text(i, 1);
  k.info.params_id = std::stoull(r.text(i, 2));
  k.bytes = static_cast<std::uint64_t>(r.i64(i, 3));
  k.created = r.f64(i, 4);
  return k;
}

// Results are `<id>.<run>.result` (result_file); databases from before leases named them `<id>.result`.
std::string result_name(const std::string& id, const std::string& result_file) {
  return result_file.empty() ? id + ".result" : result_file;
}

}  // namespace

const char* to_string(JobState s) {
  switch (s) {
    case JobState::kValidating: return "validating";
    case JobState::kPending: return "pending";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "failed";
}

nlohmann::json JobRecord::to_json() const {
  nlohmann::json j;
  j["id"] = id;
  j["status"] = to_string(state);
  j["key_id"] = key_id;
  j["model_id"] = model_id;
  j["cells"] = cells;
  j["request_bytes"] = request_bytes;
  if (state == JobState::kDone) j["result_bytes"] = result_bytes;
  j["attempts"] = attempts;
  nlohmann::json t;
  t["created"] = created;
  if (started > 0) t["started"] = started;
  if (finished > 0) t["finished"] = finished;
  if (started > 0) t["queued_seconds"] = started - created;
  if (finished > 0 && started > 0) t["run_seconds"] = finished - started;
  t["stages"] = timings;
  j["timings"] = t;
  if (!info.empty()) j["info"] = info;
  if (!error.empty()) j["error"] = error;
  if (!error_code.empty()) j["error_code"] = error_code;
  return j;
}

namespace {

using Dialect = SqlDatabase::Dialect;
using Migration = void (*)(SqlSession&, Dialect);

// Version 1: the tables as every earlier server wrote them (IF NOT EXISTS: databases from before
// schema_version existed are at version 1 or 2 already, and this is a no-op for them).
void migrate_tables(SqlSession& s, Dialect d) {
  const bool pg = d == Dialect::kPostgres;
  const std::string real = pg ? "DOUBLE PRECISION" : "REAL";
  const std::string big = pg ? "BIGINT" : "INTEGER";
  s.run("CREATE TABLE IF NOT EXISTS keys ("
        " owner TEXT NOT NULL, key_id TEXT NOT NULL, params_id TEXT NOT NULL, file TEXT NOT NULL,"
        " bytes " + big + " NOT NULL, created " + real + " NOT NULL, PRIMARY KEY (owner, key_id))");
  s.run(std::string("CREATE TABLE IF NOT EXISTS jobs (") +
        (pg ? " seq BIGSERIAL PRIMARY KEY," : " seq INTEGER PRIMARY KEY AUTOINCREMENT,") +
        " id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
        " key_id TEXT NOT NULL, model_id TEXT NOT NULL, state TEXT NOT NULL, cells INTEGER NOT NULL,"
        " request_bytes " + big + " NOT NULL, result_bytes " + big + " NOT NULL DEFAULT 0, created " + real + " NOT NULL,"
        " started " + real + " NOT NULL DEFAULT 0, finished " + real + " NOT NULL DEFAULT 0,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " error TEXT NOT NULL DEFAULT '', timings TEXT NOT NULL DEFAULT '{}', info TEXT NOT NULL DEFAULT '{}')");
  s.run("CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq)");
}

// Version 2: machine-readable error codes.
void migrate_error_code(SqlSession& s, Dialect d) {
  if (d == Dialect::kPostgres) {
    s.run("ALTER TABLE jobs ADD COLUMN IF NOT EXISTS error_code TEXT NOT NULL DEFAULT ''");
    return;
  }
  if (s.run("SELECT 1 FROM pragma_table_info('jobs') WHERE name='error_code'").empty())
    s.run("ALTER TABLE jobs ADD COLUMN error_code TEXT NOT NULL DEFAULT ''");
}

// Version 3: leases (which worker runs a job, until when its claim holds) and per-run result
// files (a worker whose lease expired must never overwrite or delete the result of the run that
// replaced it).
void migrate_leases(SqlSession& s, Dialect d) {
  const std::string real = d == Dialect::kPostgres ? "DOUBLE PRECISION" : "REAL";
  s.run("ALTER TABLE jobs ADD COLUMN worker TEXT NOT NULL DEFAULT ''");
  s.run("ALTER TABLE jobs ADD COLUMN lease_until " + real + " NOT NULL DEFAULT 0");
  s.run("ALTER TABLE jobs ADD COLUMN result_file TEXT NOT NULL DEFAULT ''");
}

// Version 4: jobs split into tasks (one per batch and plaintext prime), each claimed, leased and
// finished on its own; `result_file` names the task's part until its job is assembled.
void migrate_tasks(SqlSession& s, Dialect d) {
  const std::string real = d == Dialect::kPostgres ? "DOUBLE PRECISION" : "REAL";
  s.run("CREATE TABLE tasks (job_id TEXT NOT NULL, idx INTEGER NOT NULL, task_count INTEGER NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'pending', worker TEXT NOT NULL DEFAULT '',"
        " lease_until " + real + " NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
        " started " + real + " NOT NULL DEFAULT 0, finished " + real + " NOT NULL DEFAULT 0,"
        " error TEXT NOT NULL DEFAULT '', result_file TEXT NOT NULL DEFAULT '',"
        " timings TEXT NOT NULL DEFAULT '{}', info TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (job_id, idx))");
  s.run("CREATE INDEX tasks_state ON tasks(state)");
}

// Append only: a database at version N runs migrations N+1.. in order, each in the transaction
// that records it.
constexpr Migration kMigrations[] = {migrate_tables, migrate_error_code, migrate_leases, migrate_tasks};

// Any fixed number: the key of PostgreSQL advisory locks that serialise migrations and make a
// server exclusive (kExclusive).
constexpr std::int64_t kMigrationLock = 0x6c6b63;  // "lkc"
constexpr std::int64_t kServerLock = 0x6c6b64;

}  // namespace

int JobStore::schema_version() { return static_cast<int>(std::size(kMigrations)); }

JobStore::JobStore(const StoreConfig& config, Access access) : grace_seconds_(config.shared_grace_seconds) {
  std::error_code ec;
  if (config.is_postgres()) {
    require(!config.blobs.empty(), "a PostgreSQL job store needs a payload directory (--blobs DIR) that every node shares");
    blob_dir_ = config.blobs;
  } else {
    db_path_ = config.db;
    blob_dir_ = config.blobs.empty() ? std::filesystem::path(config.db + ".blobs") : config.blobs;
    if (db_path_.has_parent_path()) std::filesystem::create_directories(db_path_.parent_path(), ec);
  }
  blobs_ = std::make_unique<DirectoryBlobStore>(blob_dir_);
  if (config.is_postgres()) {
    db_ = std::make_unique<PostgresDatabase>(config.db);
    if (access == Access::kExclusive) lock_postgres_exclusively();
  } else {
    if (access == Access::kExclusive) lock_exclusively();
    try {
      db_ = std::make_unique<SqliteDatabase>(db_path_);
    } catch (...) {
      if (lock_fd_ >= 0) ::close(lock_fd_);
      throw;
    }
  }
  try {
    migrate();
  } catch (...) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    if (lock_conn_) PQfinish(static_cast<PGconn*>(lock_conn_));
    throw;
  }
  ensure_reserve();
}

// One transaction per migration, recorded in schema_version with it; on PostgreSQL an advisory
// transaction lock makes nodes that start together migrate one after the other.
void JobStore::migrate() {
  auto s = db_->session();
  s->run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  for (;;) {
    SqlTransaction tx(*s, db_->dialect());
    if (db_->dialect() == Dialect::kPostgres) s->run("SELECT pg_advisory_xact_lock(?)", {kMigrationLock});
    const auto v = s->run("SELECT COALESCE(MAX(version), 0) FROM schema_version").i64(0, 0);
    if (v >= schema_version()) return;
    if (v < 0) throw IoError("job store: corrupt schema_version");
    kMigrations[v](*s, db_->dialect());
    s->run("INSERT INTO schema_version (version) VALUES (?)", {v + 1});
    tx.commit();
  }
}

JobStore::~JobStore() {
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  if (lock_conn_) PQfinish(static_cast<PGconn*>(lock_conn_));  // releases the advisory lock
}

SqlResult JobStore::run(const std::string& sql, const std::vector<SqlValue>& params) {
  return db_->session()->run(sql, params);
}

// The PostgreSQL twin of the flock: a session advisory lock on a connection of its own, which the
// server drops when the connection (or the process) dies. The connection's application_name says
// which process holds it, for the message. A just-killed holder's backend may take a moment to
// notice: a few tries, 0.2 s apart.
void JobStore::lock_postgres_exclusively() {
  auto* pg = dynamic_cast<PostgresDatabase*>(db_.get());
  PGconn* c = pg->connect_dedicated();
  try {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    pg_run(c, "SELECT set_config('application_name', ?, false)",
           {"leukocrypt pid " + std::to_string(::getpid()) + " on " + host});
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (pg_run(c, "SELECT pg_try_advisory_lock(?)", {kServerLock}).text(0, 0) == "t") {
        lock_conn_ = c;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    auto holder = pg_run(c,
                         "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                         "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = ? AND l.database = "
                         "(SELECT oid FROM pg_database WHERE datname = current_database())",
                         {kServerLock});
    std::string who = holder.empty() ? "unknown" : holder.text(0, 0);
    if (who.rfind("leukocrypt ", 0) == 0) who = who.substr(11);
    throw IoError("job store '" + pg->display_url() + "' is in use by another process (" + who +
                  "): a second server on the same database is refused; stop it or use another --db");
  } catch (...) {
    PQfinish(c);
    throw;
  }
}

// An flock, not SQLite's own locking: SQLite lets many processes share a database (which is what
// makes two servers on one --db silently run the same queue); the kernel drops the flock when the
// process dies, so a kill -9 never leaves a stale lock. The holder's pid is written for the message.
void JobStore::lock_exclusively() {
  auto path = db_path_;
  path += ".lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw IoError("job store: cannot open '" + path.string() + "': " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK)
      throw IoError("job store '" + db_path_.string() + "' is in use by another process (pid " +
                    (n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : std::string("unknown")) +
                    "): a second server on the same database is refused; stop it or use another --db");
    throw IoError("job store: cannot lock '" + path.string() + "': " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    // The lock holds without the pid; only the message would lack it.
  }
}

std::filesystem::path JobStore::blob_path(const std::string& name) const { return blobs_->local_path(name); }

void JobStore::write_blob(const std::string& name, std::string_view bytes) { blobs_->put(name, bytes); }

bool JobStore::ensure_reserve() {
  std::error_code ec;
  if (std::filesystem::exists(blob_path(".reserve"), ec)) return true;
  try {
    write_blob(".reserve", std::string(kReserveBytes, '\0'));
    return true;
  } catch (const IoError&) {
    return false;  // no space yet: the next delete or sweep tries again
  }
}

template <class F>
auto JobStore::with_reserve(F&& f) {
  struct Remake {
    JobStore* s;
    ~Remake() { s->ensure_reserve(); }
  } remake{this};
  try {
    return f();
  } catch (const StorageFull&) {
    remove_blob(".reserve");
    return f();
  }
}

void JobStore::remove_blob(const std::string& name) { blobs_->remove(name); }

JobStore::PutKeyResult JobStore::put_key(const std::string& owner, const KeyInfo& info, std::string_view bytes) {
  require(wire::is_valid_id(info.key_id), "key id '" + info.key_id + "' is not a valid id");
  if (auto existing = find_key(owner, info.key_id)) {
    if (existing->bytes == bytes.size() && read_key(owner, info.key_id) == bytes) return PutKeyResult::kExisting;
    throw InvalidArgument("key id '" + info.key_id + "' is already registered with different keys");
  }
  std::string file = "key-" + wire::random_id() + ".lcx";
  write_blob(file, bytes);
  try {
    run("INSERT INTO keys (owner, key_id, params_id, file, bytes, created) VALUES (?,?,?,?,?,?)",
        {owner, info.key_id, std::to_string(info.params_id), file, static_cast<std::int64_t>(bytes.size()),
         now_seconds()});
  } catch (const IoError&) {
    // Lost a race with an identical registration: fall back to the idempotent comparison.
    remove_blob(file);
    throw InvalidArgument("key id '" + info.key_id + "' was registered concurrently; retry");
  }
  return PutKeyResult::kCreated;
}

std::optional<StoredKey> JobStore::find_key(const std::string& owner, const std::string& key_id) {
  auto r = run(std::string("SELECT ") + kKeyColumns + " FROM keys WHERE owner=? AND key_id=?", {owner, key_id});
  if (r.empty()) return std::nullopt;
  return read_key_row(r, 0);
}

std::vector<StoredKey> JobStore::list_keys(const std::string& owner) {
  auto r = run(std::string("SELECT ") + kKeyColumns + " FROM keys WHERE owner=? ORDER BY created", {owner});
  std::vector<StoredKey> out;
  for (std::size_t i = 0; i < r.rows.size(); ++i) out.push_back(read_key_row(r, i));
  return out;
}

std::string JobStore::read_key(const std::string& owner, const std::string& key_id) {
  return read_file(key_path(owner, key_id));
}

std::filesystem::path JobStore::key_path(const std::string& owner, const std::string& key_id) {
  auto r = run("SELECT file FROM keys WHERE owner=? AND key_id=?", {owner, key_id});
  if (r.empty()) throw InvalidArgument("unknown key id '" + key_id + "'");
  return blob_path(r.text(0, 0));
}

std::string JobStore::create_job(const std::string& owner, const RequestInfo& info, std::string_view request) {
  std::string id = wire::random_id();
  write_blob(id + ".request", request);
  run("INSERT INTO jobs (id, owner, key_id, model_id, state, cells, request_bytes, created) "
      "VALUES (?,?,?,?, 'pending', ?,?,?)",
      {id, owner, info.key_id, info.model_id, static_cast<std::int64_t>(info.cells),
       static_cast<std::int64_t>(request.size()), now_seconds()});
  return id;
}

std::unique_ptr<BlobUpload> JobStore::begin_upload() { return blobs_->begin_upload(); }

std::string JobStore::create_job_from_upload(const std::string& owner, const RequestInfo& info, BlobUpload& upload,
                                             JobState initial) {
  std::string id = wire::random_id();
  upload.commit(request_name(id));
  try {
    run("INSERT INTO jobs (id, owner, key_id, model_id, state, cells, request_bytes, created) "
        "VALUES (?,?,?,?,?,?,?,?)",
        {id, owner, info.key_id, info.model_id, std::string(to_string(initial)),
         static_cast<std::int64_t>(info.cells), static_cast<std::int64_t>(upload.size()), now_seconds()});
  } catch (...) {
    remove_blob(request_name(id));
    throw;
  }
  return id;
}

bool JobStore::mark_validated(const std::string& id, const RequestInfo& info, double seconds) {
  return run("UPDATE jobs SET state='pending', model_id=?, timings=?, worker='', lease_until=0 WHERE id=? AND state='validating'",
             {info.model_id, nlohmann::json{{"validate", seconds}}.dump(), id})
             .affected == 1;
}

bool JobStore::start_validation(const std::string& id, const std::string& node, double lease_seconds) {
  const double now = now_seconds();
  return run("UPDATE jobs SET worker=?, lease_until=? WHERE id=? AND state='validating' AND (lease_until < ? OR worker=?)",
             {node, now + lease_seconds, id, now, node})
             .affected == 1;
}

std::optional<std::string> JobStore::claim_validation(const std::string& node, double lease_seconds) {
  const double now = now_seconds();
  const std::string pick = db_->dialect() == Dialect::kPostgres
                               ? "SELECT id FROM jobs WHERE state='validating' AND lease_until < ? AND created < ? "
                                 "ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED"
                               : "SELECT id FROM jobs WHERE state='validating' AND lease_until < ? AND created < ? "
                                 "ORDER BY seq LIMIT 1";
  auto r = run("UPDATE jobs SET worker=?, lease_until=? WHERE id = (" + pick + ") AND state='validating' RETURNING id",
               {node, now + lease_seconds, now, now - lease_seconds});
  if (r.empty()) return std::nullopt;
  return r.text(0, 0);
}

void JobStore::reject_job(const std::string& id, const std::string& code, const std::string& error) {
  run("UPDATE jobs SET state='failed', finished=?, error=?, error_code=?, worker='', lease_until=0 WHERE id=? AND state='validating'",
      {now_seconds(), error, code, id});
}

std::vector<std::string> JobStore::job_ids(JobState state) {
  auto r = run("SELECT id FROM jobs WHERE state=? ORDER BY seq", {std::string(to_string(state))});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(std::move(row[0]));
  return out;
}

// On a shared store another node may be receiving an upload, or be between renaming a request
// into place and committing its row, right now: only files older than the grace are collected.
bool JobStore::too_young_to_collect(const std::filesystem::directory_entry& e) const {
  if (!shared() || grace_seconds_ <= 0) return false;
  std::error_code ec;
  auto t = e.last_write_time(ec);
  return !ec && std::filesystem::file_time_type::clock::now() - t < std::chrono::duration<double>(grace_seconds_);
}

std::size_t JobStore::remove_partial_uploads() {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(blob_dir_, ec))
    if (is_staged_upload(e.path()) && !too_young_to_collect(e) && std::filesystem::remove(e.path(), ec)) ++n;
  return n;
}

std::size_t JobStore::count_partial_uploads() const {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(blob_dir_, ec)) n += is_staged_upload(e.path());
  return n;
}

std::optional<JobRecord> JobStore::find_job(const std::string& owner, const std::string& id) {
  auto r = run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=? AND owner=?", {id, owner});
  if (r.empty()) return std::nullopt;
  return read_job(r);
}

std::optional<JobRecord> JobStore::get_job(const std::string& id) {
  auto r = run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?", {id});
  if (r.empty()) return std::nullopt;
  return read_job(r);
}

std::optional<JobRecord> JobStore::claim_next(const std::string& worker, double lease_seconds) {
  auto s = db_->session();
  const double now = now_seconds();
  const double until = lease_seconds > 0 ? now + lease_seconds : 0.0;
  if (db_->dialect() == Dialect::kPostgres) {
    // Row locks, not retries: a claimer skips the rows others hold and takes the next pending one.
    auto r = s->run(std::string("UPDATE jobs SET state='running', started=?, attempts=attempts+1, worker=?, lease_until=? "
                                "WHERE id = (SELECT id FROM jobs WHERE state='pending' ORDER BY seq LIMIT 1 "
                                "FOR UPDATE SKIP LOCKED) AND state='pending' RETURNING ") + kJobColumns,
                    {now, worker, until});
    if (r.empty()) return std::nullopt;
    return read_job(r);
  }
  // Another process on the same database (kShared) may claim the job between the SELECT and the
  // UPDATE: the UPDATE is conditional and its affected rows say who won; the loser takes the next.
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto next = s->run("SELECT id FROM jobs WHERE state='pending' ORDER BY seq LIMIT 1");
    if (next.empty()) return std::nullopt;
    const std::string id = next.text(0, 0);
    if (s->run("UPDATE jobs SET state='running', started=?, attempts=attempts+1, worker=?, lease_until=? "
               "WHERE id=? AND state='pending'",
               {now, worker, until, id})
            .affected != 1)
      continue;
    auto r = s->run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?", {id});
    if (!r.empty()) return read_job(r);
  }
  return std::nullopt;  // lost every race: the caller polls again
}

bool JobStore::renew_lease(const std::string& id, const std::string& worker, double lease_seconds) {
  return run("UPDATE jobs SET lease_until=? WHERE id=? AND state='running' AND worker=?",
             {now_seconds() + lease_seconds, id, worker})
             .affected == 1;
}

bool JobStore::release_claim(const std::string& id, const std::string& worker) {
  return run("UPDATE jobs SET state='pending', started=0, lease_until=0, worker='' "
             "WHERE id=? AND state='running' AND worker=?",
             {id, worker})
             .affected == 1;
}

int JobStore::requeue_expired() {
  const double now = now_seconds();
  const auto tasks = run("UPDATE tasks SET state='pending', lease_until=0,"
                         " error='the lease of worker ' || worker || ' expired (worker died or lost the database)',"
                         " worker='' WHERE state='running' AND lease_until > 0 AND lease_until < ?",
                         {now})
                         .affected;
  return static_cast<int>(tasks) + static_cast<int>(run("UPDATE jobs SET state='pending', started=0, lease_until=0,"
                              " error='the lease of worker ' || worker || ' expired (worker died or lost the database)',"
                              " worker='' WHERE state='running' AND lease_until > 0 AND lease_until < ?",
                              {now})
                              .affected);
}

bool JobStore::finish_job(const std::string& id, std::string_view result, const nlohmann::json& timings,
                          const nlohmann::json& info, const std::string& worker) {
  // A file per run: a worker whose claim was lost meanwhile writes (and then deletes) only its own.
  const std::string file = id + "." + wire::random_id() + ".result";
  write_blob(file, result);
  bool finished = false;
  try {
    // The second arm makes the engine's re-run after a lost reply (PostgreSQL, connection cut
    // after the UPDATE committed) report success instead of deleting the stored result.
    finished = run("UPDATE jobs SET state='done', finished=?, result_bytes=?, timings=?, info=?, error='', "
                   "result_file=?, lease_until=0 WHERE id=? AND ((state='running' AND worker=?) OR "
                   "(state='done' AND result_file=?))",
                   {now_seconds(), static_cast<std::int64_t>(result.size()), timings.dump(), info.dump(), file, id,
                    worker, file})
                   .affected == 1;
  } catch (const ConnectionLost&) {
    throw;  // it may have committed: the file stays (remove_orphans collects it if not)
  } catch (...) {
    remove_blob(file);
    throw;
  }
  if (!finished) remove_blob(file);
  return finished;
}

void JobStore::fail_job(const std::string& id, const std::string& error, const std::string& code) {
  run("UPDATE jobs SET state='failed', finished=?, error=?, error_code=?, lease_until=0 WHERE id=?",
      {now_seconds(), error, code, id});
  remove_tasks(id);
}

bool JobStore::fail_claimed_job(const std::string& id, const std::string& worker, const std::string& error,
                                const std::string& code) {
  return run("UPDATE jobs SET state='failed', finished=?, error=?, error_code=?, lease_until=0 "
             "WHERE id=? AND state='running' AND worker=?",
             {now_seconds(), error, code, id, worker})
             .affected == 1;
}

std::optional<JobState> JobStore::delete_job(const std::string& owner, const std::string& id) {
  return with_reserve([&] { return delete_job_now(owner, id); });
}

JobStore::DeleteKeyResult JobStore::delete_key(const std::string& owner, const std::string& key_id) {
  return with_reserve([&] { return delete_key_now(owner, key_id); });
}

std::size_t JobStore::expire_finished(double before) {
  return with_reserve([&] { return expire_finished_now(before); });
}

std::optional<JobState> JobStore::delete_job_now(const std::string& owner, const std::string& id) {
  auto r = run("DELETE FROM jobs WHERE id=? AND owner=? RETURNING state, result_file", {id, owner});
  if (r.empty()) return std::nullopt;
  remove_tasks(id);
  remove_blob(id + ".request");
  remove_blob(result_name(id, r.text(0, 1)));
  return state_from_string(r.text(0, 0));
}

// One statement, so that no job of the key can be created between the check and the delete.
JobStore::DeleteKeyResult JobStore::delete_key_now(const std::string& owner, const std::string& key_id) {
  auto r = run(std::string("DELETE FROM keys WHERE owner=? AND key_id=? AND NOT EXISTS "
                           "(SELECT 1 FROM jobs WHERE owner=? AND key_id=? AND state IN ") + kUnfinished +
                   ") RETURNING file",
               {owner, key_id, owner, key_id});
  if (r.empty()) return find_key(owner, key_id) ? DeleteKeyResult::kInUse : DeleteKeyResult::kNotFound;
  remove_blob(r.text(0, 0));
  return DeleteKeyResult::kDeleted;
}

std::size_t JobStore::expire_finished_now(double before) {
  auto r = run("DELETE FROM jobs WHERE state IN ('done','failed') AND finished < ? RETURNING id, result_file", {before});
  for (const auto& row : r.rows) {
    remove_tasks(row[0]);
    remove_blob(row[0] + ".request");
    remove_blob(result_name(row[0], row[1]));
  }
  return r.rows.size();
}

std::size_t JobStore::remove_orphans() {
  std::set<std::string> requests, results, keys, parts;
  for (const auto& row : run("SELECT result_file FROM tasks WHERE state='done'").rows) parts.insert(row[0]);
  for (const auto& row : run("SELECT id, state, result_file FROM jobs").rows) {
    requests.insert(row[0] + ".request");
    if (row[1] == "done") results.insert(result_name(row[0], row[2]));
  }
  for (const auto& row : run("SELECT file FROM keys").rows) keys.insert(row[0]);
  auto ends_with = [](const std::string& s, const char* suffix) {
    const std::string x(suffix);
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(blob_dir_, ec)) {
    const auto name = e.path().filename().string();
    const bool orphan = (ends_with(name, ".request") && !requests.count(name)) ||
                        (ends_with(name, ".result") && !results.count(name)) ||
                        (ends_with(name, ".task") && !parts.count(name)) ||
                        (name.rfind("key-", 0) == 0 && ends_with(name, ".lcx") && !keys.count(name)) ||
                        (name.rfind(".", 0) == 0 && name.find(".tmp") != std::string::npos);
    if (orphan && !too_young_to_collect(e) && std::filesystem::remove(e.path(), ec)) ++n;
  }
  return n;
}

// Split jobs stay running: their running tasks go back to pending instead.
int JobStore::requeue_running() {
  const auto tasks =
      run("UPDATE tasks SET state='pending', worker='', lease_until=0 WHERE state='running'").affected;
  return static_cast<int>(tasks) +
         static_cast<int>(run("UPDATE jobs SET state='pending', started=0, worker='', lease_until=0 "
                              "WHERE state='running' AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.job_id = jobs.id)")
                              .affected);
}

JobStore::Metrics JobStore::metrics() {
  Metrics m;
  auto pairs = [](const SqlResult& r) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (std::size_t i = 0; i < r.rows.size(); ++i) out.emplace_back(r.text(i, 0), r.i64(i, 1));
    return out;
  };
  m.jobs_by_state = pairs(run("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state"));
  m.tasks_by_state = pairs(run("SELECT state, COUNT(*) FROM tasks GROUP BY state ORDER BY state"));
  m.failed_by_code = pairs(run("SELECT error_code, COUNT(*) FROM jobs WHERE state='failed' GROUP BY error_code ORDER BY error_code"));
  auto done = run("SELECT COUNT(*), COALESCE(SUM(finished - started), 0), COALESCE(SUM(cells), 0) FROM jobs "
                  "WHERE state='done' AND started > 0");
  m.done_jobs = done.i64(0, 0);
  m.done_run_seconds = done.f64(0, 1);
  m.done_cells = done.i64(0, 2);
  return m;
}

std::size_t JobStore::count_queued() {
  return static_cast<std::size_t>(run(std::string("SELECT COUNT(*) FROM jobs WHERE state IN ") + kUnfinished).i64(0, 0));
}

std::size_t JobStore::count_queued(const std::string& owner) {
  return static_cast<std::size_t>(
      run(std::string("SELECT COUNT(*) FROM jobs WHERE owner=? AND state IN ") + kUnfinished, {owner}).i64(0, 0));
}

std::uint64_t JobStore::queued_cells(const std::string& owner) {
  return static_cast<std::uint64_t>(
      run(std::string("SELECT COALESCE(SUM(cells), 0) FROM jobs WHERE owner=? AND state IN ") + kUnfinished, {owner})
          .i64(0, 0));
}

std::size_t JobStore::count_keys(const std::string& owner) {
  return static_cast<std::size_t>(run("SELECT COUNT(*) FROM keys WHERE owner=?", {owner}).i64(0, 0));
}

std::string JobStore::read_request(const std::string& id) { return read_file(request_path(id)); }
std::filesystem::path JobStore::request_path(const std::string& id) const { return blob_path(request_name(id)); }
std::string JobStore::request_name(const std::string& id) { return id + ".request"; }
std::string JobStore::read_result(const std::string& id) {
  auto r = run("SELECT result_file FROM jobs WHERE id=?", {id});
  return read_file(blob_path(result_name(id, r.empty() ? "" : r.text(0, 0))));
}

// ---- Tasks -------------------------------------------------------------------------------------

void JobStore::remove_tasks(const std::string& id) {
  for (const auto& row : run("DELETE FROM tasks WHERE job_id=? RETURNING result_file", {id}).rows)
    if (!row[0].empty()) remove_blob(row[0]);
}

bool JobStore::split_job(const std::string& id, const std::string& worker, std::size_t count) {
  require(count >= 1, "a job splits into at least one task");
  auto s = db_->session();
  SqlTransaction tx(*s, db_->dialect());
  if (s->run("UPDATE jobs SET worker='', lease_until=0 WHERE id=? AND state='running' AND worker=?", {id, worker})
          .affected != 1)
    return false;
  for (std::size_t i = 0; i < count; ++i)
    s->run("INSERT INTO tasks (job_id, idx, task_count) VALUES (?,?,?)",
           {id, static_cast<std::int64_t>(i), static_cast<std::int64_t>(count)});
  tx.commit();
  return true;
}

// The claimed task's job, with the task's claim in it. Columns of task_row: job_id, idx,
// task_count, attempts, error, worker, lease_until.
std::optional<JobRecord> JobStore::claimed_task(SqlSession& s, const SqlResult& t) {
  auto r = s.run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?", {t.text(0, 0)});
  if (r.empty()) return std::nullopt;  // deleted meanwhile: its tasks go with it
  JobRecord j = read_job(r);
  TaskRef task;
  task.index = static_cast<std::size_t>(t.i64(0, 1));
  task.count = static_cast<std::size_t>(t.i64(0, 2));
  task.attempts = static_cast<int>(t.i64(0, 3));
  task.error = t.text(0, 4);
  j.worker = t.text(0, 5);
  j.lease_until = t.f64(0, 6);
  j.task = task;
  return j;
}

std::optional<JobRecord> JobStore::claim_task(const std::string& worker, double lease_seconds) {
  auto s = db_->session();
  const double now = now_seconds();
  const double until = lease_seconds > 0 ? now + lease_seconds : 0.0;
  constexpr const char* kReturned = "job_id, idx, task_count, attempts, error, worker, lease_until";
  if (db_->dialect() == Dialect::kPostgres) {
    auto r = s->run(std::string("UPDATE tasks SET state='running', started=?, attempts=attempts+1, worker=?, lease_until=? "
                                "WHERE (job_id, idx) = (SELECT t.job_id, t.idx FROM tasks t JOIN jobs j ON j.id = t.job_id "
                                "WHERE t.state='pending' AND j.state='running' ORDER BY j.seq, t.idx LIMIT 1 "
                                "FOR UPDATE OF t SKIP LOCKED) AND state='pending' RETURNING ") + kReturned,
                    {now, worker, until});
    if (r.empty()) return std::nullopt;
    return claimed_task(*s, r);
  }
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto next = s->run("SELECT t.job_id, t.idx FROM tasks t JOIN jobs j ON j.id = t.job_id "
                       "WHERE t.state='pending' AND j.state='running' ORDER BY j.seq, t.idx LIMIT 1");
    if (next.empty()) return std::nullopt;
    const std::string id = next.text(0, 0);
    const std::int64_t idx = next.i64(0, 1);
    if (s->run("UPDATE tasks SET state='running', started=?, attempts=attempts+1, worker=?, lease_until=? "
               "WHERE job_id=? AND idx=? AND state='pending'",
               {now, worker, until, id, idx})
            .affected != 1)
      continue;
    auto r = s->run(std::string("SELECT ") + kReturned + " FROM tasks WHERE job_id=? AND idx=?", {id, idx});
    if (!r.empty()) return claimed_task(*s, r);
  }
  return std::nullopt;
}

bool JobStore::renew_task(const JobRecord& c, double lease_seconds) {
  require(c.task.has_value(), "renew_task: not a task claim");
  return run("UPDATE tasks SET lease_until=? WHERE job_id=? AND idx=? AND state='running' AND worker=? "
             "AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id=? AND jobs.state='running')",
             {now_seconds() + lease_seconds, c.id, static_cast<std::int64_t>(c.task->index), c.worker, c.id})
             .affected == 1;
}

bool JobStore::release_task(const JobRecord& c) {
  require(c.task.has_value(), "release_task: not a task claim");
  return run("UPDATE tasks SET state='pending', lease_until=0, worker='' "
             "WHERE job_id=? AND idx=? AND state='running' AND worker=?",
             {c.id, static_cast<std::int64_t>(c.task->index), c.worker})
             .affected == 1;
}

JobStore::TaskFinish JobStore::finish_task(
    const JobRecord& c, std::string_view part, const nlohmann::json& timings, const nlohmann::json& info,
    const std::function<AssembledResult(const std::vector<TaskOutput>&)>& assemble) {
  require(c.task.has_value(), "finish_task: not a task claim");
  const auto idx = static_cast<std::int64_t>(c.task->index);
  const std::string file = c.id + "." + std::to_string(idx) + "." + wire::random_id() + ".task";
  write_blob(file, part);
  std::string result_file;
  std::vector<std::string> parts_to_remove;
  try {
    auto s = db_->session();
    SqlTransaction tx(*s, db_->dialect());
    // The job's row lock serialises the finishing tasks of one job: the last one sees all others
    // done (READ COMMITTED reads the latest commits after the lock is granted).
    const bool pg = db_->dialect() == Dialect::kPostgres;
    auto job = s->run(pg ? "SELECT state FROM jobs WHERE id=? FOR UPDATE" : "SELECT state FROM jobs WHERE id=?", {c.id});
    if (job.empty() || job.text(0, 0) != "running" ||
        s->run("UPDATE tasks SET state='done', finished=?, result_file=?, timings=?, info=?, lease_until=0 "
               "WHERE job_id=? AND idx=? AND state='running' AND worker=?",
               {now_seconds(), file, timings.dump(), info.dump(), c.id, idx, c.worker})
                .affected != 1) {
      remove_blob(file);
      return TaskFinish::kLost;
    }
    auto tasks = s->run("SELECT state, result_file, timings, info, attempts FROM tasks WHERE job_id=? ORDER BY idx", {c.id});
    for (const auto& row : tasks.rows)
      if (row[0] != "done") {
        tx.commit();
        return TaskFinish::kStored;
      }
    std::vector<TaskOutput> parts;
    // The job's attempts: its most-attempted task's (a task re-run after a crash counts).
    std::int64_t attempts = c.attempts;
    for (std::size_t i = 0; i < tasks.rows.size(); ++i) attempts = std::max(attempts, tasks.i64(i, 4));
    for (const auto& row : tasks.rows) {
      TaskOutput o;
      o.part = read_file(blob_path(row[1]));
      o.timings = nlohmann::json::parse(row[2], nullptr, false);
      o.info = nlohmann::json::parse(row[3], nullptr, false);
      parts.push_back(std::move(o));
      parts_to_remove.push_back(row[1]);
    }
    AssembledResult a = assemble(parts);
    result_file = c.id + "." + wire::random_id() + ".result";
    write_blob(result_file, a.result);
    if (s->run("UPDATE jobs SET state='done', finished=?, result_bytes=?, timings=?, info=?, error='', "
               "result_file=?, lease_until=0, worker='', attempts=? WHERE id=? AND state='running'",
               {now_seconds(), static_cast<std::int64_t>(a.result.size()), a.timings.dump(), a.info.dump(),
                result_file, attempts, c.id})
            .affected != 1)
      throw IoError("job " + c.id + " changed while its result was assembled");
    s->run("DELETE FROM tasks WHERE job_id=?", {c.id});
    tx.commit();
  } catch (const ConnectionLost&) {
    throw;  // a lost COMMIT may have committed: the files stay (remove_orphans collects them if not)
  } catch (...) {
    remove_blob(file);
    if (!result_file.empty()) remove_blob(result_file);
    throw;
  }
  for (const auto& f : parts_to_remove) remove_blob(f);
  return TaskFinish::kAssembled;
}

bool JobStore::fail_claimed_task(const JobRecord& c, const std::string& error, const std::string& code) {
  require(c.task.has_value(), "fail_claimed_task: not a task claim");
  {
    auto s = db_->session();
    SqlTransaction tx(*s, db_->dialect());
    if (s->run("UPDATE tasks SET state='failed', lease_until=0, error=? WHERE job_id=? AND idx=? AND state='running' AND worker=?",
               {error, c.id, static_cast<std::int64_t>(c.task->index), c.worker})
            .affected != 1)
      return false;
    s->run("UPDATE jobs SET state='failed', finished=?, error=?, error_code=?, lease_until=0, worker='' "
           "WHERE id=? AND state='running'",
           {now_seconds(), error, code, c.id});
    tx.commit();
  }
  remove_tasks(c.id);
  return true;
}

std::pair<std::size_t, std::size_t> JobStore::task_progress(const std::string& id) {
  auto r = run("SELECT COUNT(*), COALESCE(SUM(CASE WHEN state='done' THEN 1 ELSE 0 END), 0) FROM tasks WHERE job_id=?",
               {id});
  return {static_cast<std::size_t>(r.i64(0, 1)), static_cast<std::size_t>(r.i64(0, 0))};
}

}  // namespace leukocrypt::service
