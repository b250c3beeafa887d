// The clinic's SQLite records (see clinic_store.h).
#include "clinic/clinic_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <map>

#include "common/error.h"

namespace leukocrypt::clinic {
namespace {

// Binds bytes as a BLOB rather than TEXT (thumbnails).
struct Blob {
  const std::string& bytes;
};

// A prepared statement: bind positional values, step through rows.
class Query {
 public:
  Query(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw IoError(std::string("clinic database: ") + sqlite3_errmsg(db));
  }
  ~Query() { sqlite3_finalize(s_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  template <class... Args>
  Query& bind_all(const Args&... args) {
    int i = 0;
    (put(++i, args), ...);
    return *this;
  }
  bool row() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw IoError(std::string("clinic database: ") + sqlite3_errmsg(db_));
  }
  void run() { while (row()) {} }
  std::string text(int c) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }

 private:
  void put(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT); }
  void put(int i, const char* v) { put(i, std::string(v)); }
  void put(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void put(int i, int v) { sqlite3_bind_int64(s_, i, v); }
  void put(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void put(int i, const Blob& v) { sqlite3_bind_blob(s_, i, v.bytes.data(), int(v.bytes.size()), SQLITE_TRANSIENT); }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS providers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL, token TEXT NOT NULL, card TEXT NOT NULL,
  key_id TEXT NOT NULL, key_fingerprint TEXT NOT NULL, registered INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS screenings (
  id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, patient TEXT NOT NULL, packing TEXT NOT NULL,
  status TEXT NOT NULL, error_code TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '',
  job_id TEXT NOT NULL DEFAULT '', created REAL NOT NULL, finished REAL NOT NULL DEFAULT 0,
  cell_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS screening_cells (
  screening_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, folder_class TEXT NOT NULL,
  thumb BLOB NOT NULL, label INTEGER NOT NULL DEFAULT -1, class TEXT NOT NULL DEFAULT '',
  probability REAL NOT NULL DEFAULT 0, PRIMARY KEY (screening_id, idx));
)sql";

ProviderRecord read_provider(const Query& q) {
  ProviderRecord p;
  p.id = q.text(0);
  p.name = q.text(1);
  p.url = q.text(2);
  p.token = q.text(3);
  p.card = nlohmann::json::parse(q.text(4), nullptr, false);
  if (p.card.is_discarded()) p.card = nlohmann::json::object();
  p.key_id = q.text(5);
  p.key_fingerprint = q.text(6);
  p.registered = q.i64(7) != 0;
  p.created = q.f64(8);
  return p;
}

constexpr const char* kProviderColumns = "id, name, url, token, card, key_id, key_fingerprint, registered, created";
constexpr const char* kScreeningColumns =
    "id, provider_id, patient, packing, status, error_code, error_message, job_id, created, finished, cell_count";

ScreeningRecord read_screening(const Query& q) {
  ScreeningRecord s;
  s.id = q.text(0);
  s.provider_id = q.text(1);
  s.patient = q.text(2);
  s.packing = q.text(3);
  s.status = q.text(4);
  s.error_code = q.text(5);
  s.error_message = q.text(6);
  s.job_id = q.text(7);
  s.created = q.f64(8);
  s.finished = q.f64(9);
  s.cell_count = static_cast<std::size_t>(q.i64(10));
  return s;
}

}  // namespace

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_final_status(const std::string& status) {
  return status == "done" || status == "failed" || status == "cancelled";
}

nlohmann::json ProviderRecord::to_json() const {
  nlohmann::json j = {{"id", id},
                      {"name", name},
                      {"url", url},
                      {"has_token", !token.empty()},
                      {"model_id", card.value("model_id", "")},
                      {"model_name", card.value("name", "")},
                      {"params_id", card.value("params_id", "")},
                      {"classes", card.value("classes", nlohmann::json::array())},
                      {"key_id", key_id},
                      {"key_fingerprint", key_fingerprint},
                      {"registered", registered},
                      {"created", created}};
  j["image_size"] = card.contains("input") && card["input"].is_object() ? card["input"].value("height", 32) : 32;
  return j;
}

nlohmann::json ScreeningRecord::to_json(bool with_cells) const {
  nlohmann::json j = {{"id", id},           {"provider_id", provider_id}, {"patient", patient},
                      {"packing", packing}, {"status", status},           {"job_id", job_id},
                      {"created", created}, {"finished", finished},       {"cell_count", cell_count}};
  if (!error_code.empty()) j["error"] = {{"code", error_code}, {"message", error_message}};
  if (!with_cells) return j;
  nlohmann::json cs = nlohmann::json::array();
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& c = cells[i];
    nlohmann::json cj = {{"index", i}, {"name", c.name}, {"folder_class", c.folder_class}};
    if (c.label >= 0) cj.update({{"label", c.label}, {"class", c.class_name}, {"probability", c.probability}});
    cs.push_back(std::move(cj));
  }
  j["cells"] = std::move(cs);
  return j;
}

ClinicStore::ClinicStore(const std::filesystem::path& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError("cannot open clinic database '" + path.string() + "': " + msg);
  }
  ::chmod(path.c_str(), 0600);  // it holds provider API tokens
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;");
  exec(kSchema);
  Query(db_,
        "UPDATE screenings SET status = 'failed', error_code = 'interrupted', "
        "error_message = 'the clinic stopped while this screening was running; start it again' "
        "WHERE status NOT IN ('done', 'failed', 'cancelled')")
      .run();
}

ClinicStore::~ClinicStore() { sqlite3_close(db_); }

void ClinicStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw IoError("clinic database: " + msg);
  }
}

void ClinicStore::put_provider(const ProviderRecord& p) {
  std::lock_guard lock(mu_);
  Query(db_, "INSERT OR REPLACE INTO providers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind_all(p.id, p.name, p.url, p.token, p.card.dump(), p.key_id, p.key_fingerprint, int(p.registered), p.created)
      .run();
}

std::optional<ProviderRecord> ClinicStore::find_provider(const std::string& id) {
  std::lock_guard lock(mu_);
  Query q(db_, (std::string("SELECT ") + kProviderColumns + " FROM providers WHERE id = ?").c_str());
  q.bind_all(id);
  if (!q.row()) return std::nullopt;
  return read_provider(q);
}

std::vector<ProviderRecord> ClinicStore::list_providers() {
  std::lock_guard lock(mu_);
  Query q(db_, (std::string("SELECT ") + kProviderColumns + " FROM providers ORDER BY created").c_str());
  std::vector<ProviderRecord> out;
  while (q.row()) out.push_back(read_provider(q));
  return out;
}

void ClinicStore::create_screening(const ScreeningRecord& s) {
  std::lock_guard lock(mu_);
  exec("BEGIN");
  try {
    Query(db_, "INSERT INTO screenings (id, provider_id, patient, packing, status, created, cell_count) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind_all(s.id, s.provider_id, s.patient, s.packing, s.status, s.created, std::int64_t(s.cells.size()))
        .run();
    for (std::size_t i = 0; i < s.cells.size(); ++i) {
      const auto& c = s.cells[i];
      Query(db_, "INSERT INTO screening_cells (screening_id, idx, name, folder_class, thumb) VALUES (?, ?, ?, ?, ?)")
          .bind_all(s.id, std::int64_t(i), c.name, c.folder_class, Blob{c.thumb_png})
          .run();
    }
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void ClinicStore::set_status(const std::string& id, const std::string& status, const std::string& error_code,
                             const std::string& error_message) {
  std::lock_guard lock(mu_);
  Query(db_, "UPDATE screenings SET status = ?, error_code = ?, error_message = ?, finished = ? WHERE id = ?")
      .bind_all(status, error_code, error_message, is_final_status(status) ? now_seconds() : 0.0, id)
      .run();
}

void ClinicStore::set_job(const std::string& id, const std::string& job_id) {
  std::lock_guard lock(mu_);
  Query(db_, "UPDATE screenings SET job_id = ? WHERE id = ?").bind_all(job_id, id).run();
}

void ClinicStore::set_packing(const std::string& id, const std::string& packing) {
  std::lock_guard lock(mu_);
  Query(db_, "UPDATE screenings SET packing = ? WHERE id = ?").bind_all(packing, id).run();
}

void ClinicStore::save_results(const std::string& id, const std::vector<ScreeningCell>& cells) {
  std::lock_guard lock(mu_);
  exec("BEGIN");
  try {
    for (std::size_t i = 0; i < cells.size(); ++i)
      Query(db_, "UPDATE screening_cells SET label = ?, class = ?, probability = ? WHERE screening_id = ? AND idx = ?")
          .bind_all(cells[i].label, cells[i].class_name, cells[i].probability, id, std::int64_t(i))
          .run();
    set_status(id, "done");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::optional<ScreeningRecord> ClinicStore::find_screening(const std::string& id) {
  std::lock_guard lock(mu_);
  Query q(db_, (std::string("SELECT ") + kScreeningColumns + " FROM screenings WHERE id = ?").c_str());
  q.bind_all(id);
  if (!q.row()) return std::nullopt;
  auto s = read_screening(q);
  Query c(db_, "SELECT name, folder_class, thumb, label, class, probability FROM screening_cells "
               "WHERE screening_id = ? ORDER BY idx");
  c.bind_all(id);
  while (c.row())
    s.cells.push_back({c.text(0), c.text(1), c.text(2), int(c.i64(3)), c.text(4), c.f64(5)});
  return s;
}

std::vector<ScreeningRecord> ClinicStore::list_screenings() {
  std::lock_guard lock(mu_);
  Query q(db_, (std::string("SELECT ") + kScreeningColumns + " FROM screenings ORDER BY created DESC").c_str());
  std::vector<ScreeningRecord> out;
  while (q.row()) out.push_back(read_screening(q));
  return out;
}

}  // namespace leukocrypt::clinic
