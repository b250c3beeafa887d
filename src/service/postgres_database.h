// PostgreSQL engine for the job store (libpq): a small pool of connections shared by the threads
// of one process. A connection found broken (server restarted, network cut) is reset before it is
// handed out again; a statement that fails on a lost connection is retried once on a fresh one
// when it ran outside a transaction or is a BEGIN (every such statement is idempotent or
// conditional, and finish_job tells its own earlier commit apart); inside a transaction it, and
// the COMMIT after it, throw ConnectionLost and the caller retries the whole transaction.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "service/sql_database.h"

typedef struct pg_conn PGconn;

namespace leukocrypt::service {

class PostgresDatabase final : public SqlDatabase {
 public:
  // `url`: a libpq connection URI (postgresql://user@host:port/db?...). Connects one connection
  // at once (so a wrong URL fails here); up to `pool_size` are opened on demand. Throws IoError.
  explicit PostgresDatabase(std::string url, std::size_t pool_size = 4);
  ~PostgresDatabase() override;
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  Dialect dialect() const override { return Dialect::kPostgres; }
  std::unique_ptr<SqlSession> session() override;

  // A connection outside the pool, for a session-long advisory lock (it dies with the process).
  PGconn* connect_dedicated() const;
  // The URL without its password, for messages.
  std::string display_url() const;

 private:
  friend class PostgresSession;
  PGconn* take();
  void give_back(PGconn* c);

  std::string url_;
  std::size_t pool_size_;
  std::size_t open_ = 0;
  std::vector<PGconn*> idle_;
  std::mutex mu_;
  std::condition_variable cv_;
};

// Runs one statement on a connection; `?` placeholders become $1, $2, ... Throws StorageFull
// (SQLSTATE 53100), ConnectionLost or IoError.
SqlResult pg_run(PGconn* c, const std::string& sql, const std::vector<SqlValue>& params);

}  // namespace leukocrypt::service
