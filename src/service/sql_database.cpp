// SqlResult accessors and the transaction guard (see sql_database.h).
#include "service/sql_database.h"

#include <cstdlib>
#include <regex>

#include "common/error.h"

namespace leukocrypt::service {

std::int64_t SqlResult::i64(std::size_t r, std::size_t c) const {
  const auto& s = text(r, c);
  return s.empty() ? 0 : std::strtoll(s.c_str(), nullptr, 10);
}

double SqlResult::f64(std::size_t r, std::size_t c) const {
  const auto& s = text(r, c);
  return s.empty() ? 0.0 : std::strtod(s.c_str(), nullptr);
}

// SQLite: IMMEDIATE takes the write lock at once, so two writers never deadlock upgrading.
// PostgreSQL: READ COMMITTED; the statements that need more lock rows (FOR UPDATE) themselves.
SqlTransaction::SqlTransaction(SqlSession& s, SqlDatabase::Dialect d) : s_(s) {
  s_.run(d == SqlDatabase::Dialect::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
}

SqlTransaction::~SqlTransaction() {
  if (done_) return;
  try {
    s_.run("ROLLBACK");
  } catch (...) {
    // The connection is gone; the server rolls back on its own.
  }
}

void SqlTransaction::commit() {
  s_.run("COMMIT");
  done_ = true;
}

bool is_postgres_url(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

std::string redact_db(const std::string& db) {
  static const std::regex password(R"(://([^:/@]*):[^@/]*@)");
  return std::regex_replace(db, password, "://$1:***@");
}

}  // namespace leukocrypt::service
