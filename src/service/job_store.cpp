// SQLite job/key store with durable payload files (see job_store.h).
#include "service/job_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

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
    "attempts, error, timings, info";

JobState state_from_string(const std::string& s) {
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
  return j;
}

JobStore::JobStore(const std::filesystem::path& db_path) : db_path_(db_path) {
  blob_dir_ = db_path;
  blob_dir_ += ".blobs";
  std::error_code ec;
  if (db_path.has_parent_path()) std::filesystem::create_directories(db_path.parent_path(), ec);
  std::filesystem::create_directories(blob_dir_, ec);
  if (ec) throw IoError("job store: cannot create '" + blob_dir_.string() + "': " + ec.message());
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
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
}

JobStore::~JobStore() { sqlite3_close(db_); }

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
  write_file_atomic(blob_path(name), bytes, 0600);
  fsync_dir(blob_dir_);
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
                                           const std::filesystem::path& upload) {
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
          "VALUES (?,?,?,?, 'pending', ?,?,?)");
  st.bind(1, id).bind(2, owner).bind(3, info.key_id).bind(4, info.model_id);
  st.bind(5, static_cast<std::int64_t>(info.cells)).bind(6, static_cast<std::int64_t>(size));
  st.bind(7, now_seconds());
  try {
    st.step();
  } catch (...) {
    std::filesystem::remove(request_path(id), ec);
    throw;
  }
  return id;
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
  std::string id;
  {
    Stmt st(db_, "SELECT id FROM jobs WHERE state='pending' ORDER BY seq LIMIT 1");
    if (!st.step()) return std::nullopt;
    id = st.text(0);
  }
  {
    // Single connection under mu_, so select-then-update is atomic with respect to other callers.
    Stmt st(db_, "UPDATE jobs SET state='running', started=?, attempts=attempts+1 WHERE id=? AND state='pending'");
    st.bind(1, now_seconds()).bind(2, id);
    st.step();
  }
  Stmt st(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?").c_str());
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_job(st);
}

void JobStore::finish_job(const std::string& id, std::string_view result, const nlohmann::json& timings,
                          const nlohmann::json& info) {
  write_blob(id + ".result", result);
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE jobs SET state='done', finished=?, result_bytes=?, timings=?, info=?, error='' WHERE id=?");
  st.bind(1, now_seconds()).bind(2, static_cast<std::int64_t>(result.size())).bind(3, timings.dump());
  st.bind(4, info.dump()).bind(5, id);
  st.step();
}

void JobStore::fail_job(const std::string& id, const std::string& error) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE jobs SET state='failed', finished=?, error=? WHERE id=?");
  st.bind(1, now_seconds()).bind(2, error).bind(3, id);
  st.step();
}

int JobStore::requeue_running() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE jobs SET state='pending', started=0 WHERE state='running'");
  st.step();
  return sqlite3_changes(db_);
}

std::size_t JobStore::count_queued() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT COUNT(*) FROM jobs WHERE state IN ('pending','running')");
  st.step();
  return static_cast<std::size_t>(st.i64(0));
}

std::size_t JobStore::count_queued(const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT COUNT(*) FROM jobs WHERE owner=? AND state IN ('pending','running')");
  st.bind(1, owner);
  st.step();
  return static_cast<std::size_t>(st.i64(0));
}

std::string JobStore::read_request(const std::string& id) { return read_file(request_path(id)); }
std::filesystem::path JobStore::request_path(const std::string& id) const { return blob_path(id + ".request"); }
std::string JobStore::read_result(const std::string& id) { return read_file(blob_path(id + ".result")); }

}  // namespace leukocrypt::service
