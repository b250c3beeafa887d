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

  SqlResult run(const std::string& sql, const std::vector<SqlValue>& params) override {
    if (sql == "BEGIN") in_tx_ = true;
    if (sql == "COMMIT" || sql == "ROLLBACK") in_tx_ = false;
    try {
      return pg_run(c_, sql, params);
    } catch (const IoError&) {
      // A restarted server: outside a transaction, reconnect and run the statement once more.
      if (PQstatus(c_) == CONNECTION_OK || in_tx_) throw;
      PQreset(c_);
      if (PQstatus(c_) != CONNECTION_OK) throw;
      return pg_run(c_, sql, params);
    }
  }

 private:
  PostgresDatabase& db_;
  PGconn* c_;
  bool in_tx_ = false;
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
    throw IoError("job store: cannot connect to '" + display_url() + "': " + msg);
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
