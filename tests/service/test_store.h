// The store the service tests run against: SQLite in the test's temporary directory, or — when
// tests/service/with_postgres.sh runs them (LEUKOCRYPT_TEST_STORE=postgresql) — a fresh
// PostgreSQL database per test directory on its throw-away cluster, payloads in the directory.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "service/job_store.h"

namespace leukocrypt::testing {

inline bool testing_postgres() {
  const char* s = std::getenv("LEUKOCRYPT_TEST_STORE");
  return s && std::string(s) == "postgresql";
}

// Creates database `name` on the cluster of PGHOST/PGPORT/PGUSER unless it exists.
inline void create_test_database(const std::string& name) {
  PGconn* c = PQconnectdb("dbname=postgres");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("test cluster: " + msg);
  }
  PGresult* r = PQexec(c, ("CREATE DATABASE \"" + name + "\"").c_str());
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || (state && std::string(state) == "42P04");
  std::string msg = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("test cluster: " + msg);
}

// `db_file` is the SQLite file a test would use (its directory is unique to the test).
inline service::StoreConfig test_store(const std::filesystem::path& db_file) {
  if (!testing_postgres()) return service::StoreConfig(db_file);
  std::string name = "lc_";
  for (char ch : db_file.parent_path().filename().string() + "_" + db_file.stem().string())
    name.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
  create_test_database(name);
  auto blobs = db_file;
  blobs += ".blobs";
  service::StoreConfig config("postgresql:///" + name, blobs);
  config.shared_grace_seconds = 0;  // the tests' orphans are fresh files
  return config;
}

// A request stored as the server stores an upload (begin_upload, then create_job_from_upload).
inline std::string store_upload(service::JobStore& store, const std::string& owner, const service::RequestInfo& info,
                                const std::string& bytes,
                                service::JobState initial = service::JobState::kValidating) {
  auto upload = store.begin_upload();
  upload->append(bytes.data(), bytes.size());
  upload->close();
  return store.create_job_from_upload(owner, info, *upload, initial);
}

}  // namespace leukocrypt::testing
