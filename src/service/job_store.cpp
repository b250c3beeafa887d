// SQLite job/key store with durable payload files (see job_store.h).
#include "service/job_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>

#include "common/error.h"
#include "common/paths.h"
#include "service/wire/container.h"

namespace leukocrypt::service {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RAII prepared statement with positional binding helpers.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw IoError(std::string("job store: cannot prepare statement: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); return *this; }
  Stmt& bind(int i, double v) { sqlite3_bind_double(s_, i, v); return *this; }
  // Returns true while a row is available.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (rc == SQLITE_FULL) throw StorageFull(std::string("the server's disk is full: job store: ") + sqlite3_errmsg(db_));
    throw IoError(std::string("job store: ") + sqlite3_errmsg(db_));
  }
  std::string text(int c) const {
    auto p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

constexpr const char* kJobColumns =
    "id, owner, key_id, model_id, state, cells, request_bytes, result_bytes, created, started, finished, "
    "attempts, error, timings, info, error_code";

// The states whose jobs still cost work (quotas count them).
constexpr const char* kUnfinished = "('validating','pending','running')";

JobState state_from_string(const std::string& s) {
  if (s == "validating") return JobState::kValidating;
  if (s == "pending") return JobState::kPending;
  if (s == "running") return JobState::kRunning;
  if (s == "done") return JobState::kDone;
  return JobState::kFailed;
}

JobRecord read_job(const Stmt& st) {
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
  return j;
}

// The columns read_key_row reads, in its order.
constexpr const char* kKeyColumns = "owner, key_id, params_id, bytes, created";

StoredKey read_key_row(const Stmt& st) {
  StoredKey k;
  k.owner = st.text(0);
  k.info.key_id = st.text(1);
  k.info.params_id = std::stoull(st.text(2));
  k.bytes = static_cast<std::uint64_t>(st.i64(3));
  k.created = st.f64(4);
  return k;
}

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
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

JobStore::JobStore(const std::filesystem::path& db_path, Access access) : db_path_(db_path) {
  blob_dir_ = db_path;
  blob_dir_ += ".blobs";
  std::error_code ec;
  if (db_path.has_parent_path()) std::filesystem::create_directories(db_path.parent_path(), ec);
  std::filesystem::create_directories(blob_dir_, ec);
  if (ec) throw IoError("job store: cannot create '" + blob_dir_.string() + "': " + ec.message());
  if (access == Access::kExclusive) lock_exclusively();
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    if (lock_fd_ >= 0) ::close(lock_fd_);
    throw IoError("job store: cannot open '" + db_path.string() + "': " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
  exec(
      "CREATE TABLE IF NOT EXISTS keys ("
      " owner TEXT NOT NULL, key_id TEXT NOT NULL, params_id TEXT NOT NULL, file TEXT NOT NULL,"
      " bytes INTEGER NOT NULL, created REAL NOT NULL, PRIMARY KEY (owner, key_id))");
  exec(
      "CREATE TABLE IF NOT EXISTS jobs ("
      " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
      " key_id TEXT NOT NULL, model_id TEXT NOT NULL, state TEXT NOT NULL, cells INTEGER NOT NULL,"
      " request_bytes INTEGER NOT NULL, result_bytes INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,"
      " started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
      " error TEXT NOT NULL DEFAULT '', timings TEXT NOT NULL DEFAULT '{}', info TEXT NOT NULL DEFAULT '{}')");
  exec("CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq)");
  add_column_if_missing("jobs", "error_code", "TEXT NOT NULL DEFAULT ''");
  ensure_reserve();
}

// Databases written by an older server lack later columns: added in place (SQLite keeps the rows).
void JobStore::add_column_if_missing(const char* table, const char* column, const char* decl) {
  Stmt st(db_, (std::string("SELECT 1 FROM pragma_table_info('") + table + "') WHERE name=?").c_str());
  st.bind(1, std::string(column));
  if (st.step()) return;
  exec((std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + decl).c_str());
}

JobStore::~JobStore() {
  sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
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

void JobStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw IoError("job store '" + db_path_.string() + "': " + msg);
  }
}

std::filesystem::path JobStore::blob_path(const std::string& name) const { return blob_dir_ / name; }

void JobStore::write_blob(const std::string& name, std::string_view bytes) {
  write_file_durably(blob_path(name), bytes);
  fsync_dir(blob_dir_);
}

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

void JobStore::remove_blob(const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(blob_path(name), ec);  // a leftover is an orphan for the next start
}

JobStore::PutKeyResult JobStore::put_key(const std::string& owner, const KeyInfo& info, std::string_view bytes) {
  require(wire::is_valid_id(info.key_id), "key id '" + info.key_id + "' is not a valid id");
  if (auto existing = find_key(owner, info.key_id)) {
    if (existing->bytes == bytes.size() && read_key(owner, info.key_id) == bytes) return PutKeyResult::kExisting;
    throw InvalidArgument("key id '" + info.key_id + "' is already registered with different keys");
  }
  std::string file = "key-" + wire::random_id() + ".lcx";
  write_blob(file, bytes);
  std::lock_guard lock(mu_);
  Stmt st(db_, "INSERT INTO keys (owner, key_id, params_id, file, bytes, created) VALUES (?,?,?,?,?,?)");
  st.bind(1, owner).bind(2, info.key_id).bind(3, std::to_string(info.params_id)).bind(4, file);
  st.bind(5, static_cast<std::int64_t>(bytes.size())).bind(6, now_seconds());
  try {
    st.step();
  } catch (const IoError&) {
    // Lost a race with an identical registration: fall back to the idempotent comparison.
    std::error_code ec;
    std::filesystem::remove(blob_path(file), ec);
    throw InvalidArgument("key id '" + info.key_id + "' was registered concurrently; retry");
  }
  return PutKeyResult::kCreated;
}

std::optional<StoredKey> JobStore::find_key(const std::string& owner, const std::string& key_id) {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kKeyColumns + " FROM keys WHERE owner=? AND key_id=?").c_str());
  st.bind(1, owner).bind(2, key_id);
  if (!st.step()) return std::nullopt;
  return read_key_row(st);
}

std::vector<StoredKey> JobStore::list_keys(const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kKeyColumns + " FROM keys WHERE owner=? ORDER BY created").c_str());
  st.bind(1, owner);
  std::vector<StoredKey> out;
  while (st.step()) out.push_back(read_key_row(st));
  return out;
}

std::string JobStore::read_key(const std::string& owner, const std::string& key_id) {
  return read_file(key_path(owner, key_id));
}

std::filesystem::path JobStore::key_path(const std::string& owner, const std::string& key_id) {
  std::string file;
  {
    std::lock_guard lock(mu_);
    Stmt st(db_, "SELECT file FROM keys WHERE owner=? AND key_id=?");
    st.bind(1, owner).bind(2, key_id);
    if (!st.step()) throw InvalidArgument("unknown key id '" + key_id + "'");
    file = st.text(0);
  }
  return blob_path(file);
}

std::string JobStore::create_job(const std::string& owner, const RequestInfo& info, std::string_view request) {
  std::string id = wire::random_id();
  write_blob(id + ".request", request);
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT INTO jobs (id, owner, key_id, model_id, state, cells, request_bytes, created) "
          "VALUES (?,?,?,?, 'pending', ?,?,?)");
  st.bind(1, id).bind(2, owner).bind(3, info.key_id).bind(4, info.model_id);
  st.bind(5, static_cast<std::int64_t>(info.cells)).bind(6, static_cast<std::int64_t>(request.size()));
  st.bind(7, now_seconds());
  st.step();
  return id;
}

std::filesystem::path JobStore::new_upload_path() const {
  return blob_path("upload-" + wire::random_id() + ".part");
}

std::string JobStore::create_job_from_file(const std::string& owner, const RequestInfo& info,
                                           const std::filesystem::path& upload, JobState initial) {
  std::error_code ec;
  auto size = std::filesystem::file_size(upload, ec);
  if (ec) throw IoError("job store: upload '" + upload.string() + "': " + ec.message());
  int fd = ::open(upload.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    std::string msg = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw IoError("job store: cannot fsync '" + upload.string() + "': " + msg);
  }
  ::close(fd);
  std::string id = wire::random_id();
  if (::rename(upload.c_str(), request_path(id).c_str()) != 0)
    throw IoError("job store: cannot move the upload into place: " + std::string(std::strerror(errno)));
  fsync_dir(blob_dir_);
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT INTO jobs (id, owner, key_id, model_id, state, cells, request_bytes, created) "
          "VALUES (?,?,?,?,?,?,?,?)");
  st.bind(1, id).bind(2, owner).bind(3, info.key_id).bind(4, info.model_id).bind(5, std::string(to_string(initial)));
  st.bind(6, static_cast<std::int64_t>(info.cells)).bind(7, static_cast<std::int64_t>(size));
  st.bind(8, now_seconds());
  try {
    st.step();
  } catch (...) {
    std::filesystem::remove(request_path(id), ec);
    throw;
  }
  return id;
}

bool JobStore::mark_validated(const std::string& id, const RequestInfo& info, double seconds) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE jobs SET state='pending', model_id=?, timings=? WHERE id=? AND state='validating'");
  st.bind(1, info.model_id).bind(2, nlohmann::json{{"validate", seconds}}.dump()).bind(3, id);
  st.step();
  return sqlite3_changes(db_) == 1;
}

void JobStore::reject_job(const std::string& id, const std::string& code, const std::string& error) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE jobs SET state='failed', finished=?, error=?, error_code=? WHERE id=? AND state='validating'");
  st.bind(1, now_seconds()).bind(2, error).bind(3, code).bind(4, id);
  st.step();
}

std::vector<std::string> JobStore::job_ids(JobState state) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT id FROM jobs WHERE state=? ORDER BY seq");
  st.bind(1, std::string(to_string(state)));
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

namespace {
bool is_partial_upload(const std::filesystem::directory_entry& e) {
  auto name = e.path().filename().string();
  return name.rfind("upload-", 0) == 0 && e.path().extension() == ".part";
}
}  // namespace

std::size_t JobStore::remove_partial_uploads() {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(blob_dir_, ec))
    if (is_partial_upload(e) && std::filesystem::remove(e.path(), ec)) ++n;
  return n;
}

std::size_t JobStore::count_partial_uploads() const {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(blob_dir_, ec)) n += is_partial_upload(e);
  return n;
}

std::optional<JobRecord> JobStore::find_job(const std::string& owner, const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=? AND owner=?").c_str());
  st.bind(1, id).bind(2, owner);
  if (!st.step()) return std::nullopt;
  return read_job(st);
}

std::optional<JobRecord> JobStore::get_job(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?").c_str());
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_job(st);
}

std::optional<JobRecord> JobStore::claim_next() {
  std::lock_guard lock(mu_);
  // Another process on the same database (kShared) may claim the job between the SELECT and the
  // UPDATE: the UPDATE is conditional and its affected rows say who won; the loser takes the next.
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string id;
    {
      Stmt st(db_, "SELECT id FROM jobs WHERE state='pending' ORDER BY seq LIMIT 1");
      if (!st.step()) return std::nullopt;
      id = st.text(0);
    }
    {
      Stmt st(db_, "UPDATE jobs SET state='running', started=?, attempts=attempts+1 WHERE id=? AND state='pending'");
      st.bind(1, now_seconds()).bind(2, id);
      st.step();
    }
    if (sqlite3_changes(db_) != 1) continue;
    Stmt st(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?").c_str());
    st.bind(1, id);
    if (st.step()) return read_job(st);
  }
  return std::nullopt;  // lost every race: the caller polls again
}

bool JobStore::finish_job(const std::string& id, std::string_view result, const nlohmann::json& timings,
                          const nlohmann::json& info) {
  write_blob(id + ".result", result);
  bool finished = false;
  try {
    std::lock_guard lock(mu_);
    Stmt st(db_,
            "UPDATE jobs SET state='done', finished=?, result_bytes=?, timings=?, info=?, error='' "
            "WHERE id=? AND state='running'");
    st.bind(1, now_seconds()).bind(2, static_cast<std::int64_t>(result.size())).bind(3, timings.dump());
    st.bind(4, info.dump()).bind(5, id);
    st.step();
    finished = sqlite3_changes(db_) == 1;
  } catch (...) {
    remove_blob(id + ".result");
    throw;
  }
  if (!finished) remove_blob(id + ".result");
  return finished;
}

void JobStore::fail_job(const std::string& id, const std::string& error, const std::string& code) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE jobs SET state='failed', finished=?, error=?, error_code=? WHERE id=?");
  st.bind(1, now_seconds()).bind(2, error).bind(3, code).bind(4, id);
  st.step();
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
  JobState state;
  {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT state FROM jobs WHERE id=? AND owner=?");
    q.bind(1, id).bind(2, owner);
    if (!q.step()) return std::nullopt;
    state = state_from_string(q.text(0));
    Stmt d(db_, "DELETE FROM jobs WHERE id=? AND owner=?");
    d.bind(1, id).bind(2, owner);
    d.step();
  }
  remove_blob(id + ".request");
  remove_blob(id + ".result");
  return state;
}

JobStore::DeleteKeyResult JobStore::delete_key_now(const std::string& owner, const std::string& key_id) {
  std::string file;
  {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT file FROM keys WHERE owner=? AND key_id=?");
    q.bind(1, owner).bind(2, key_id);
    if (!q.step()) return DeleteKeyResult::kNotFound;
    file = q.text(0);
    Stmt u(db_, (std::string("SELECT COUNT(*) FROM jobs WHERE owner=? AND key_id=? AND state IN ") + kUnfinished).c_str());
    u.bind(1, owner).bind(2, key_id);
    u.step();
    if (u.i64(0) > 0) return DeleteKeyResult::kInUse;
    Stmt d(db_, "DELETE FROM keys WHERE owner=? AND key_id=?");
    d.bind(1, owner).bind(2, key_id);
    d.step();
  }
  remove_blob(file);
  return DeleteKeyResult::kDeleted;
}

std::size_t JobStore::expire_finished_now(double before) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT id FROM jobs WHERE state IN ('done','failed') AND finished < ?");
    q.bind(1, before);
    while (q.step()) ids.push_back(q.text(0));
    Stmt d(db_, "DELETE FROM jobs WHERE state IN ('done','failed') AND finished < ?");
    d.bind(1, before);
    d.step();
  }
  for (const auto& id : ids) {
    remove_blob(id + ".request");
    remove_blob(id + ".result");
  }
  return ids.size();
}

std::size_t JobStore::remove_orphans() {
  std::set<std::string> requests, results, keys;
  {
    std::lock_guard lock(mu_);
    Stmt j(db_, "SELECT id, state FROM jobs");
    while (j.step()) {
      requests.insert(j.text(0) + ".request");
      if (j.text(1) == "done") results.insert(j.text(0) + ".result");
    }
    Stmt k(db_, "SELECT file FROM keys");
    while (k.step()) keys.insert(k.text(0));
  }
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
                        (name.rfind("key-", 0) == 0 && ends_with(name, ".lcx") && !keys.count(name)) ||
                        (name.rfind(".", 0) == 0 && name.find(".tmp") != std::string::npos);
    if (orphan && std::filesystem::remove(e.path(), ec)) ++n;
  }
  return n;
}

int JobStore::requeue_running() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE jobs SET state='pending', started=0 WHERE state='running'");
  st.step();
  return sqlite3_changes(db_);
}

std::size_t JobStore::count_queued() {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT COUNT(*) FROM jobs WHERE state IN ") + kUnfinished).c_str());
  st.step();
  return static_cast<std::size_t>(st.i64(0));
}

std::size_t JobStore::count_queued(const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT COUNT(*) FROM jobs WHERE owner=? AND state IN ") + kUnfinished).c_str());
  st.bind(1, owner);
  st.step();
  return static_cast<std::size_t>(st.i64(0));
}

std::uint64_t JobStore::queued_cells(const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string("SELECT COALESCE(SUM(cells), 0) FROM jobs WHERE owner=? AND state IN ") + kUnfinished).c_str());
  st.bind(1, owner);
  st.step();
  return static_cast<std::uint64_t>(st.i64(0));
}

std::size_t JobStore::count_keys(const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT COUNT(*) FROM keys WHERE owner=?");
  st.bind(1, owner);
  st.step();
  return static_cast<std::size_t>(st.i64(0));
}

std::string JobStore::read_request(const std::string& id) { return read_file(request_path(id)); }
std::filesystem::path JobStore::request_path(const std::string& id) const { return blob_path(id + ".request"); }
std::string JobStore::read_result(const std::string& id) { return read_file(blob_path(id + ".result")); }

}  // namespace leukocrypt::service
