// The small SQL surface the job store needs, with two engines behind it: SQLite (one machine,
// embedded) and PostgreSQL (many API nodes and workers). The store writes its SQL once with `?`
// placeholders; the engines differ only in connection handling, error mapping and the few
// statements that must differ (schema, claims), which the store picks by `dialect()`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"

namespace leukocrypt::service {

// The database could not be reached, or the connection was lost while a statement ran (server
// restarting, network cut): worth retrying once it is back. Inside a transaction everything was
// rolled back, except that a lost COMMIT may or may not have committed.
class ConnectionLost : public IoError {
 public:
  using IoError::IoError;
};

using SqlValue = std::variant<std::int64_t, double, std::string>;

// A materialised result: every value as text (doubles with round-trip precision), NULL as "".
struct SqlResult {
  std::vector<std::vector<std::string>> rows;
  std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE

  bool empty() const { return rows.empty(); }
  const std::string& text(std::size_t r, std::size_t c) const { return rows.at(r).at(c); }
  std::int64_t i64(std::size_t r, std::size_t c) const;
  double f64(std::size_t r, std::size_t c) const;
};

// One connection, held exclusively while this object lives. Errors: StorageFull when the
// database's disk is full, ConnectionLost when it cannot be reached, IoError otherwise
// (constraint violations included).
class SqlSession {
 public:
  virtual ~SqlSession() = default;
  virtual SqlResult run(const std::string& sql, const std::vector<SqlValue>& params = {}) = 0;
};

class SqlDatabase {
 public:
  enum class Dialect { kSqlite, kPostgres };
  virtual ~SqlDatabase() = default;
  virtual Dialect dialect() const = 0;
  // Blocks until a connection is free.
  virtual std::unique_ptr<SqlSession> session() = 0;
};

// BEGIN on construction, ROLLBACK on destruction unless commit() ran (an exception unwinds it).
class SqlTransaction {
 public:
  SqlTransaction(SqlSession& s, SqlDatabase::Dialect d);
  ~SqlTransaction();
  SqlTransaction(const SqlTransaction&) = delete;
  SqlTransaction& operator=(const SqlTransaction&) = delete;
  void commit();

 private:
  SqlSession& s_;
  bool done_ = false;
};

// True for `postgresql://...` and `postgres://...` (libpq connection URIs).
bool is_postgres_url(const std::string& db);
// `db` with a URL's password replaced by ***, for logs and messages.
std::string redact_db(const std::string& db);

}  // namespace leukocrypt::service
