// PostgreSQL engine (see postgres_database.h).
#include "service/postgres_database.h"

#include <libpq-fe.h>

#include <cstdio>

#include "common/error.h"
#include "service/disk_writer.h"

namespace leukocrypt::service {
namespace {

// `?` -> `$n`. The store's SQL has no `?` inside string literals.
std::string numbered_placeholders(const std::string& sql) {
  std::string out;
  int n = 0;
  for (char ch : sql) {
    if (ch != '?') {
      out.push_back(ch);
      continue;
    }
    out.push_back('$');
    out.append(std::to_string(++n));
  }
  return out;
}

std::string to_text(const SqlValue& v) {
  if (auto* x = std::get_if<std::int64_t>(&v)) return std::to_string(*x);
  if (auto* d = std::get_if<double>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  return std::get<std::string>(v);
}

std::string first_line(const char* msg) {
  std::string s = msg ? msg : "unknown error";
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// The statement failed because the connection is gone, not because of the SQL. libpq leaves the
// status CONNECTION_OK after an immediate shutdown's "server closed the connection unexpectedly",
// so the error's SQLSTATE decides too: none (libpq's own error), class 08 (connection exception),
// or 57P01-57P03 (administrator/crash shutdown, cannot connect now).
bool connection_lost(PGconn* c, const char* state) {
  if (PQstatus(c) != CONNECTION_OK || !state) return true;
  const std::string s = state;
  return s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03";
}

}  // namespace

SqlResult pg_run(PGconn* c, const std::string& sql, const std::vector<SqlValue>& params) {
  std::vector<std::string> texts;
  for (const auto& p : params) texts.push_back(to_text(p));
  std::vector<const char*> values;
  for (const auto& t : texts) values.push_back(t.c_str());
  PGresult* r = PQexecParams(c, numbered_placeholders(sql).c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  struct Clear {
    PGresult* r;
    ~Clear() { PQclear(r); }
  } clear{r};
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string msg = first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    if (state && std::string(state) == "53100") throw StorageFull("the database's disk is full: job store: " + msg);
    if (connection_lost(c, state)) throw ConnectionLost("job store (postgresql): " + msg);
    throw IoError("job store (postgresql): " + msg);
  }
  SqlResult out;
  const int rows = PQntuples(r), cols = PQnfields(r);
  out.rows.resize(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      out.rows[static_cast<std::size_t>(i)].emplace_back(PQgetvalue(r, i, j),
                                                         static_cast<std::size_t>(PQgetlength(r, i, j)));
  const char* n = PQcmdTuples(r);
  out.affected = (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
  return out;
}

class PostgresSession final : public SqlSession {
 public:
  PostgresSession(PostgresDatabase& db, PGconn* c) : db_(db), c_(c) {}
  ~PostgresSession() override { db_.give_back(c_); }

  // A lost connection (server restarted, network cut) is reconnected and the statement run once
  // more only where that is safe: outside a transaction, or for BEGIN itself (nothing of the
  // transaction ran yet). Inside a transaction the server has rolled it back: this statement and
  // every later one up to COMMIT/ROLLBACK throw ConnectionLost (COMMIT must never "succeed" on a
  // fresh connection: the caller would believe its writes stored); ROLLBACK returns quietly. The
  // connection is reconnected on its next use.
  SqlResult run(const std::string& sql, const std::vector<SqlValue>& params) override {
    const bool ends_tx = sql == "COMMIT" || sql == "ROLLBACK";
    if (cut_) {
      cut_ = !ends_tx;
      if (sql == "ROLLBACK") return {};
      throw ConnectionLost("job store (postgresql): the connection was lost inside a transaction; it was rolled back");
    }
    const bool retryable = !in_tx_ && !ends_tx;
    try {
      return track(sql, pg_run(c_, sql, params));
    } catch (const ConnectionLost&) {
      in_tx_ = false;
      if (sql == "ROLLBACK") return {};  // the server rolled back when the connection went
      if (!retryable) {
        cut_ = !ends_tx;
        throw;
      }
      PQreset(c_);
      if (PQstatus(c_) != CONNECTION_OK) throw;
      return track(sql, pg_run(c_, sql, params));
    }
  }

 private:
  SqlResult track(const std::string& sql, SqlResult r) {
    if (sql == "BEGIN") in_tx_ = true;
    if (sql == "COMMIT" || sql == "ROLLBACK") in_tx_ = false;
    return r;
  }

  PostgresDatabase& db_;
  PGconn* c_;
  bool in_tx_ = false;
  bool cut_ = false;  // the connection was lost inside the current transaction
};

PostgresDatabase::PostgresDatabase(std::string url, std::size_t pool_size)
    : url_(std::move(url)), pool_size_(pool_size < 1 ? 1 : pool_size) {
  idle_.push_back(connect_dedicated());
  open_ = 1;
}

PostgresDatabase::~PostgresDatabase() {
  for (auto* c : idle_) PQfinish(c);
}

std::string PostgresDatabase::display_url() const { return redact_db(url_); }

PGconn* PostgresDatabase::connect_dedicated() const {
  PGconn* c = PQconnectdb(url_.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = first_line(PQerrorMessage(c));
    PQfinish(c);
    throw ConnectionLost("job store: cannot connect to '" + display_url() + "': " + msg);
  }
  return c;
}

PGconn* PostgresDatabase::take() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || open_ < pool_size_; });
  if (!idle_.empty()) {
    PGconn* c = idle_.back();
    idle_.pop_back();
    lock.unlock();
    if (PQstatus(c) != CONNECTION_OK) PQreset(c);  // server restarted while it was idle
    return c;
  }
  ++open_;
  lock.unlock();
  try {
    return connect_dedicated();
  } catch (...) {
    std::lock_guard relock(mu_);
    --open_;
    cv_.notify_one();
    throw;
  }
}

void PostgresDatabase::give_back(PGconn* c) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(c);
  }
  cv_.notify_one();
}

std::unique_ptr<SqlSession> PostgresDatabase::session() { return std::make_unique<PostgresSession>(*this, take()); }

}  // namespace leukocrypt::service
