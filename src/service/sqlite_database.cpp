// SQLite engine (see sqlite_database.h).
#include "service/sqlite_database.h"

#include <sqlite3.h>

#include <cstdio>

#include "common/error.h"
#include "service/disk_writer.h"

namespace leukocrypt::service {
namespace {

[[noreturn]] void throw_sqlite(sqlite3* db, int rc) {
  if (rc == SQLITE_FULL) throw StorageFull(std::string("the server's disk is full: job store: ") + sqlite3_errmsg(db));
  throw IoError(std::string("job store: ") + sqlite3_errmsg(db));
}

std::string column_text(sqlite3_stmt* s, int c) {
  switch (sqlite3_column_type(s, c)) {
    case SQLITE_NULL: return {};
    case SQLITE_FLOAT: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(s, c));  // round-trips exactly
      return buf;
    }
    default: {
      auto p = sqlite3_column_text(s, c);
      return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, c)))
               : std::string();
    }
  }
}

class SqliteSession final : public SqlSession {
 public:
  SqliteSession(sqlite3* db, std::mutex& mu) : db_(db), lock_(mu) {}

  SqlResult run(const std::string& sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw IoError(std::string("job store: cannot prepare statement: ") + sqlite3_errmsg(db_));
    struct Finalize {
      sqlite3_stmt* s;
      ~Finalize() { sqlite3_finalize(s); }
    } fin{s};
    for (std::size_t i = 0; i < params.size(); ++i) bind(s, static_cast<int>(i + 1), params[i]);
    SqlResult out;
    for (;;) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw_sqlite(db_, rc);
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(s); ++c) row.push_back(column_text(s, c));
      out.rows.push_back(std::move(row));
    }
    out.affected = sqlite3_changes(db_);
    return out;
  }

 private:
  static void bind(sqlite3_stmt* s, int i, const SqlValue& v) {
    if (auto* x = std::get_if<std::int64_t>(&v)) sqlite3_bind_int64(s, i, *x);
    else if (auto* d = std::get_if<double>(&v)) sqlite3_bind_double(s, i, *d);
    else {
      const auto& t = std::get<std::string>(v);
      sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
    }
  }

  sqlite3* db_;
  std::unique_lock<std::mutex> lock_;
};

}  // namespace

SqliteDatabase::SqliteDatabase(const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw IoError("job store: cannot open '" + path.string() + "': " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  auto s = session();
  s->run("PRAGMA journal_mode=WAL");
  s->run("PRAGMA synchronous=FULL");
  s->run("PRAGMA foreign_keys=ON");
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close(db_); }

std::unique_ptr<SqlSession> SqliteDatabase::session() { return std::make_unique<SqliteSession>(db_, mu_); }

}  // namespace leukocrypt::service
