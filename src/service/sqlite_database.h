// SQLite engine for the job store: one connection (WAL, synchronous=FULL) behind a mutex; a
// session holds the mutex, so statements of one session never interleave with another's.
#pragma once

#include <filesystem>
#include <mutex>

#include "service/sql_database.h"

struct sqlite3;

namespace leukocrypt::service {

class SqliteDatabase final : public SqlDatabase {
 public:
  explicit SqliteDatabase(const std::filesystem::path& path);  // throws IoError
  ~SqliteDatabase() override;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::unique_ptr<SqlSession> session() override;

 private:
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace leukocrypt::service
