// A PostgreSQL restart (pg_ctl restart -m fast and -m immediate) under load: pooled connections
// (idle ones and one cut inside a transaction) recover, and an API node with lease-holding worker
// threads keeps answering and finishes every accepted job exactly once with the exact result —
// no restart of our own process. Needs the throw-away cluster of with_postgres.sh
// (service_tests_postgresql), which exports its data directory and binaries; skipped elsewhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "common/error.h"
#include "server_fixture.h"
#include "service/postgres_database.h"
#include "service/worker.h"

namespace leukocrypt::service {
namespace {

using namespace std::chrono_literals;
using namespace testing;

bool pg_ctl(const std::string& action, const std::string& mode) {
  return leukocrypt::testing::test_cluster_ctl(action, mode);
}
// Returns once the server accepts connections again.
bool restart_postgres(const std::string& mode) { return pg_ctl("restart", mode); }
bool can_restart() { return leukocrypt::testing::can_control_test_cluster(); }

#define REQUIRE_RESTARTABLE_CLUSTER()                                                                      \
  if (!can_restart()) GTEST_SKIP() << "needs with_postgres.sh's cluster (runs in service_tests_postgresql)"

std::string url_of(const StoreConfig& c) { return c.db; }

// A store whose database commits synchronously (test_store.h: commit_synchronously).
StoreConfig durable_store(const std::filesystem::path& db_file) {
  auto config = leukocrypt::testing::test_store(db_file);
  leukocrypt::testing::commit_synchronously(config.db.substr(config.db.rfind('/') + 1));
  return config;
}

// Four pooled connections idle through a restart; then all four are used at once.
void check_idle_pool_recovers(const std::string& mode) {
  leukocrypt::testing::TempDir dir;
  const auto config = leukocrypt::testing::test_store(dir / "pool.db");
  PostgresDatabase db(url_of(config), 4);
  {
    std::vector<std::unique_ptr<SqlSession>> held;
    for (int i = 0; i < 4; ++i) held.push_back(db.session());
    for (auto& s : held) EXPECT_EQ(s->run("SELECT 1").text(0, 0), "1");
  }
  ASSERT_TRUE(restart_postgres(mode)) << "pg_ctl restart -m " << mode << " failed";
  std::vector<std::unique_ptr<SqlSession>> held;
  for (int i = 0; i < 4; ++i) held.push_back(db.session());
  // Two plain statements and two transactions (BEGIN is the first statement on a stale connection).
  for (int i = 0; i < 4; ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(held[i]->run("SELECT ?::int + 1", {std::int64_t{i}}).text(0, 0), std::to_string(i + 1)) << mode;
    } else {
      SqlTransaction tx(*held[i], db.dialect());
      EXPECT_EQ(held[i]->run("SELECT 2").text(0, 0), "2") << mode;
      tx.commit();
    }
  }
}

TEST(PostgresRestart, IdlePooledConnectionsRecoverAfterFastRestart) {
  REQUIRE_RESTARTABLE_CLUSTER();
  check_idle_pool_recovers("fast");
}

TEST(PostgresRestart, IdlePooledConnectionsRecoverAfterImmediateRestart) {
  REQUIRE_RESTARTABLE_CLUSTER();
  check_idle_pool_recovers("immediate");
}

// A transaction cut by the restart: its next statement fails with IoError (no hang, no silent
// reconnect that would lose the transaction's earlier writes), nothing of it is committed, and
// the caller's retry on a fresh session succeeds.
TEST(PostgresRestart, StatementInACutTransactionFailsCleanlyAndTheRetrySucceeds) {
  REQUIRE_RESTARTABLE_CLUSTER();
  leukocrypt::testing::TempDir dir;
  const auto config = durable_store(dir / "tx.db");
  PostgresDatabase db(url_of(config), 2);
  db.session()->run("CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL)");
  for (const std::string mode : {"fast", "immediate"}) {
    db.session()->run("DELETE FROM t");
    {
      auto s = db.session();
      SqlTransaction tx(*s, db.dialect());
      s->run("INSERT INTO t (v) VALUES (1)");
      ASSERT_TRUE(restart_postgres(mode)) << mode;
      EXPECT_THROW(s->run("INSERT INTO t (v) VALUES (2)"), IoError) << mode;
      EXPECT_THROW(tx.commit(), IoError) << mode;  // not committed on a fresh connection either
    }
    EXPECT_EQ(db.session()->run("SELECT COUNT(*) FROM t").i64(0, 0), 0) << mode;
    {
      auto s = db.session();
      SqlTransaction tx(*s, db.dialect());
      s->run("INSERT INTO t (v) VALUES (1)");
      s->run("INSERT INTO t (v) VALUES (2)");
      tx.commit();
    }
    EXPECT_EQ(db.session()->run("SELECT COUNT(*) FROM t").i64(0, 0), 2) << mode;
  }
}

// A runner that, as its job ends, takes PostgreSQL down (immediate) and has it back ~1.5 s later:
// the worker stores its result while the database is unreachable.
struct OutageRunner : FakeRunner {
  mutable std::thread restarter;
  RunOutput run(std::string_view keys, const wire::ContainerFile& f,
                const std::function<void(double)>& progress) const override {
    auto out = FakeRunner::run(keys, f, progress);
    if (!restarter.joinable() && pg_ctl("stop", "immediate"))
      restarter = std::thread([] {
        std::this_thread::sleep_for(1500ms);
        restart_postgres("fast");
      });
    return out;
  }
  ~OutageRunner() override {
    if (restarter.joinable()) restarter.join();
  }
};

// The result is stored once the database is back: not failed for the outage, not left for the
// lease to lapse and run again.
TEST(PostgresRestart, WorkerStoresItsResultOnceTheDatabaseIsBack) {
  REQUIRE_RESTARTABLE_CLUSTER();
  leukocrypt::testing::TempDir dir;
  JobStore s(durable_store(dir / "outage.db"), JobStore::Access::kShared);
  s.put_key("alice", {"ka", kParams}, make_keys("ka"));
  auto id = s.create_job("alice", {"ka", kParams, kModel, 1}, make_request("ka", {7}));
  OutageRunner runner;
  Worker w(s, runner, {"w1", 5, 3});
  ASSERT_NO_FATAL_FAILURE(expect_claimed_and_done(s, w, id, {14}));
  EXPECT_EQ(runner.runs.load(), 1);
}

// Polls a job until done or failed (bounded: 30 s); every answer must be a 200.
nlohmann::json finished(httplib::Client& c, const std::string& id) {
  for (int i = 0; i < 3000; ++i) {
    auto r = c.Get(("/v1/jobs/" + id).c_str(), auth(kAlice));
    if (!r) return {{"status", "no answer"}};
    if (r->status != 200) return {{"status", "HTTP " + std::to_string(r->status)}, {"body", r->body}};
    auto j = nlohmann::json::parse(r->body);
    if (j["status"] == "done" || j["status"] == "failed") return j;
    std::this_thread::sleep_for(10ms);
  }
  return {{"status", "not finished in 30 s"}};
}

// An API node with worker threads on leases (as `serve --db postgresql://...` with workers):
// jobs in flight (split into tasks and unsplit) while PostgreSQL restarts, twice.
struct PostgresRestartServer : ServiceServer {
  void SetUp() override {
    if (!can_restart()) return;
    store.reset();  // as `serve --db postgresql://...` opens it: shared, with leases
    store = std::make_unique<JobStore>(durable_store(dir / "jobs.db"), JobStore::Access::kShared);
  }
};

TEST_F(PostgresRestartServer, EveryAcceptedJobFinishesExactlyOnceAcrossRestarts) {
  REQUIRE_RESTARTABLE_CLUSTER();
  runner.delay_ms = 600;
  runner.split = 2;
  auto o = options();
  o.workers = 3;
  o.lease_seconds = 3;
  start(o);
  store->put_key("alice", {"ka", kParams}, make_keys("ka"));
  auto c = client(port);
  std::map<std::string, std::vector<std::uint64_t>> expected;
  std::uint64_t next = 1;
  for (const std::string mode : {"fast", "immediate"}) {
    for (int i = 0; i < 6; ++i) {
      std::vector<std::uint64_t> cells{next++};
      if (i % 2) cells.push_back(next++);  // two cells: two tasks
      auto id = submit(c, kAlice, make_request("ka", cells));
      ASSERT_FALSE(id.empty());
      for (auto& v : cells) v *= 2;
      expected[id] = cells;
    }
    // Mid-way: something claimed and running, something still queued.
    ASSERT_TRUE(eventually([&] {
      for (const auto& [k, v] : store->metrics().jobs_by_state)
        if (k == "running" && v > 0) return true;
      return false;
    }));
    ASSERT_TRUE(restart_postgres(mode)) << "pg_ctl restart -m " << mode << " failed";
    // The API node answers again without a restart of ours (bounded).
    std::string last;
    ASSERT_TRUE(eventually([&] {
      auto r = c.Get(("/v1/jobs/" + expected.begin()->first).c_str(), auth(kAlice));
      last = r ? std::to_string(r->status) + " " + r->body : "no answer: " + httplib::to_string(r.error());
      return r && r->status == 200;
    })) << "the API node did not answer after the restart (" << mode << "): " << last;
  }
  for (const auto& [id, values] : expected) {
    auto j = finished(c, id);
    ASSERT_EQ(j.value("status", ""), "done") << id << ": " << j.dump();
    auto r = c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(read_result(r->body), values) << id;
  }
  // Exactly one stored result per job, and no task part left behind once the orphans of calls
  // cut by the restart (kept while their COMMIT's fate was unknown) are collected.
  store->remove_orphans();
  std::map<std::string, int> results;
  std::size_t parts = 0;
  for (const auto& e : std::filesystem::directory_iterator(store->blob_dir())) {
    if (e.path().extension() == ".result") ++results[e.path().filename().string().substr(0, e.path().filename().string().find('.'))];
    parts += e.path().extension() == ".task";
  }
  EXPECT_EQ(results.size(), expected.size());
  for (const auto& [id, n] : results) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(parts, 0u);
  // New work is accepted and run after both restarts.
  auto id = submit(c, kAlice, make_request("ka", {1000}));
  auto j = finished(c, id);
  EXPECT_EQ(j.value("status", ""), "done") << j.dump();
  // While the database is down: a clear, retryable 503 (not a 500, no hang); then 200 again.
  ASSERT_TRUE(pg_ctl("stop", "immediate"));
  auto down = c.Get(("/v1/jobs/" + id).c_str(), auth(kAlice));
  expect_error(down, 503, "store_unavailable");
  if (down) EXPECT_EQ(down->get_header_value("Retry-After"), "1");
  ASSERT_TRUE(restart_postgres("fast"));
  auto up = c.Get(("/v1/jobs/" + id).c_str(), auth(kAlice));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 200) << up->body;
}

}  // namespace
}  // namespace leukocrypt::service
