// JobStore: durable jobs and keys, per-owner isolation, crash recovery (running -> pending).
#include "service/job_store.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "common/paths.h"
#include "service/postgres_database.h"
#include "service/sqlite_database.h"
#include "test_dir.h"
#include "test_store.h"

namespace leukocrypt::service {
namespace {

RequestInfo req(const std::string& key) { return {key, 7, "m", 3}; }

TEST(JobStore, JobLifecycle) {
  testing::TempDir dir;
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  auto id = s.create_job("alice", req("k"), "REQUEST");
  auto j = s.find_job("alice", id);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->state, JobState::kPending);
  EXPECT_EQ(j->cells, 3u);
  EXPECT_EQ(s.count_queued(), 1u);
  auto c = s.claim_next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, id);
  EXPECT_EQ(c->state, JobState::kRunning);
  EXPECT_EQ(c->attempts, 1);
  EXPECT_FALSE(s.claim_next());
  EXPECT_EQ(s.read_request(id), "REQUEST");
  s.finish_job(id, "RESULT", {{"layer1", 0.5}}, {});
  j = s.find_job("alice", id);
  EXPECT_EQ(j->state, JobState::kDone);
  EXPECT_EQ(j->result_bytes, 6u);
  EXPECT_EQ(s.read_result(id), "RESULT");
  EXPECT_EQ(s.count_queued(), 0u);
  EXPECT_DOUBLE_EQ(j->to_json()["timings"]["stages"]["layer1"].get<double>(), 0.5);
}

TEST(JobStore, OwnersAreIsolated) {
  testing::TempDir dir;
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  auto id = s.create_job("alice", req("k"), "R");
  EXPECT_FALSE(s.find_job("bob", id));
  EXPECT_TRUE(s.find_job("alice", id));
  s.put_key("alice", {"k", 7}, "KEYS");
  EXPECT_FALSE(s.find_key("bob", "k"));
  EXPECT_THROW(s.read_key("bob", "k"), InvalidArgument);
  EXPECT_EQ(s.read_key("alice", "k"), "KEYS");
  EXPECT_EQ(s.count_queued("alice"), 1u);
  EXPECT_EQ(s.count_queued("bob"), 0u);
}

TEST(JobStore, KeysAreImmutable) {
  testing::TempDir dir;
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  EXPECT_EQ(s.put_key("a", {"k", 7}, "KEYS"), JobStore::PutKeyResult::kCreated);
  EXPECT_EQ(s.put_key("a", {"k", 7}, "KEYS"), JobStore::PutKeyResult::kExisting);
  EXPECT_THROW(s.put_key("a", {"k", 7}, "OTHER"), InvalidArgument);
  EXPECT_THROW(s.put_key("a", {"../x", 7}, "KEYS"), InvalidArgument);
  EXPECT_EQ(s.put_key("b", {"k", 7}, "OTHER"), JobStore::PutKeyResult::kCreated);
  EXPECT_EQ(s.find_key("a", "k")->info.params_id, 7u);
}

TEST(JobStore, FindAndListKeysReadEveryColumn) {
  testing::TempDir dir;
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  s.put_key("a", {"k2", 9}, "LONGER KEYS");
  s.put_key("a", {"k1", 7}, "KEYS");
  s.put_key("b", {"k3", 1}, "X");
  auto keys = s.list_keys("a");
  ASSERT_EQ(keys.size(), 2u);
  std::sort(keys.begin(), keys.end(), [](const auto& x, const auto& y) { return x.info.key_id < y.info.key_id; });
  EXPECT_EQ(keys[0].owner, "a");
  EXPECT_EQ(keys[0].info.key_id, "k1");
  EXPECT_EQ(keys[0].info.params_id, 7u);
  EXPECT_EQ(keys[0].bytes, 4u);
  EXPECT_GT(keys[0].created, 0.0);
  EXPECT_EQ(keys[1].info.key_id, "k2");
  EXPECT_EQ(keys[1].info.params_id, 9u);
  EXPECT_EQ(keys[1].bytes, 11u);
  auto found = s.find_key("a", "k2");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->owner, "a");
  EXPECT_EQ(found->info.params_id, 9u);
  EXPECT_EQ(found->bytes, 11u);
  EXPECT_DOUBLE_EQ(found->created, keys[1].created);
  EXPECT_TRUE(s.list_keys("nobody").empty());
}

TEST(JobStore, SurvivesReopenAndRequeuesRunningJobs) {
  testing::TempDir dir;
  std::string pending, running, done;
  {
    JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
    running = s.create_job("a", req("k"), "R1");
    pending = s.create_job("a", req("k"), "R2");
    done = s.create_job("a", req("k"), "R3");
    ASSERT_EQ(s.claim_next()->id, running);
    ASSERT_EQ(s.claim_next()->id, pending);
    ASSERT_EQ(s.claim_next()->id, done);
    s.finish_job(done, "OUT", {}, {});
    // "crash": the store closes with `running` and `pending` left running.
  }
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  EXPECT_EQ(s.requeue_running(), 2);
  EXPECT_EQ(s.find_job("a", running)->state, JobState::kPending);
  EXPECT_EQ(s.find_job("a", done)->state, JobState::kDone);
  EXPECT_EQ(s.read_result(done), "OUT");
  auto again = s.claim_next();
  EXPECT_EQ(again->id, running);  // original order kept
  EXPECT_EQ(again->attempts, 2);
}

TEST(JobStore, FailedJobKeepsMessage) {
  testing::TempDir dir;
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  auto id = s.create_job("a", req("k"), "R");
  s.claim_next();
  s.fail_job(id, "boom");
  auto j = s.find_job("a", id);
  EXPECT_EQ(j->state, JobState::kFailed);
  EXPECT_EQ(j->to_json()["error"], "boom");
}

TEST(JobStore, UnwritableLocationIsIoError) {
  EXPECT_THROW(JobStore("/proc/nonexistent/dir/jobs.db"), IoError);
}

// The database behind a test store, for looking at its tables directly.
std::unique_ptr<SqlDatabase> raw_database(const StoreConfig& c) {
  if (c.is_postgres()) return std::make_unique<PostgresDatabase>(c.db);
  return std::make_unique<SqliteDatabase>(c.db);
}

TEST(JobStoreSchema, VersionIsRecordedOnceAndReopenDoesNotMigrateAgain) {
  testing::TempDir dir;
  const auto config = leukocrypt::testing::test_store(dir / "jobs.db");
  { JobStore s(config); }
  { JobStore s(config); }
  auto versions = raw_database(config)->session()->run("SELECT version FROM schema_version ORDER BY version");
  ASSERT_EQ(versions.rows.size(), static_cast<std::size_t>(JobStore::schema_version()));
  for (std::size_t i = 0; i < versions.rows.size(); ++i) EXPECT_EQ(versions.i64(i, 0), std::int64_t(i + 1));
}

// A database written before schema_version existed (and before error_code): opened in place,
// its rows kept, the missing column added.
TEST(JobStoreSchema, OldSqliteDatabaseIsMigratedInPlace) {
  testing::TempDir dir;
  {
    SqliteDatabase old(dir / "jobs.db");
    auto s = old.session();
    s->run("CREATE TABLE keys (owner TEXT NOT NULL, key_id TEXT NOT NULL, params_id TEXT NOT NULL, file TEXT NOT NULL,"
           " bytes INTEGER NOT NULL, created REAL NOT NULL, PRIMARY KEY (owner, key_id))");
    s->run("CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
           " key_id TEXT NOT NULL, model_id TEXT NOT NULL, state TEXT NOT NULL, cells INTEGER NOT NULL,"
           " request_bytes INTEGER NOT NULL, result_bytes INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,"
           " started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
           " error TEXT NOT NULL DEFAULT '', timings TEXT NOT NULL DEFAULT '{}', info TEXT NOT NULL DEFAULT '{}')");
    s->run("INSERT INTO jobs (id, owner, key_id, model_id, state, cells, request_bytes, created)"
           " VALUES ('0123456789abcdef', 'a', 'k', 'm', 'pending', 3, 1, 1.5)");
  }
  std::filesystem::create_directories(dir / "jobs.db.blobs");
  write_file_atomic(dir / "jobs.db.blobs" / "0123456789abcdef.request", "R");
  JobStore s(dir / "jobs.db");
  auto j = s.find_job("a", "0123456789abcdef");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->cells, 3u);
  EXPECT_DOUBLE_EQ(j->created, 1.5);
  ASSERT_EQ(s.claim_next()->id, j->id);
  s.fail_job(j->id, "boom", "some_code");
  EXPECT_EQ(s.find_job("a", j->id)->error_code, "some_code");
}

TEST(JobStoreSchema, PostgresNeedsASharedPayloadDirectory) {
  EXPECT_THROW(JobStore(StoreConfig("postgresql:///leukocrypt")), InvalidArgument);
}

TEST(JobStoreSchema, PasswordsAreRedactedFromMessages) {
  EXPECT_EQ(redact_db("postgresql://lc:s3cret@db.example:5432/jobs"), "postgresql://lc:***@db.example:5432/jobs");
  EXPECT_EQ(redact_db("postgresql://lc@db/jobs"), "postgresql://lc@db/jobs");
  EXPECT_EQ(redact_db("jobs.db"), "jobs.db");
}

TEST(JobStoreSchema, UnreachablePostgresIsAOneLineIoError) {
  testing::TempDir dir;
  try {
    JobStore s(StoreConfig("postgresql://127.0.0.1:1/leukocrypt?connect_timeout=2", dir / "blobs"));
    ADD_FAILURE() << "connected to port 1";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cannot connect to 'postgresql://127.0.0.1:1/"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace leukocrypt::service

namespace leukocrypt::service {
namespace {

// The payload store: a put is whole or absent (no temporary left), a second put replaces the first,
// removing a missing payload is quiet, and an unreadable name is an IoError.
TEST(DirectoryBlobStore, PutIsWholeReplacesAndLeavesNoTemporaries) {
  leukocrypt::testing::TempDir dir;
  DirectoryBlobStore blobs(dir / "blobs");
  blobs.put("a.request", "first");
  blobs.put("a.request", "second");
  EXPECT_EQ(blobs.get("a.request"), "second");
  EXPECT_EQ(blobs.local_path("a.request"), dir / "blobs" / "a.request");
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "blobs")) files += (void(e), 1);
  EXPECT_EQ(files, 1u);
  blobs.remove("a.request");
  blobs.remove("a.request");
  EXPECT_THROW(blobs.get("a.request"), IoError);
}

// An upload in pieces: readable at its staged path once closed, under its name only after commit;
// one dropped uncommitted leaves no file.
TEST(DirectoryBlobStore, UploadsAreStagedThenCommittedOrDropped) {
  leukocrypt::testing::TempDir dir;
  DirectoryBlobStore blobs(dir / "blobs");
  auto count_files = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir / "blobs")) n += (void(e), 1);
    return n;
  };
  {
    auto dropped = blobs.begin_upload();
    dropped->append("half", 4);
    EXPECT_EQ(count_files(), 1u);
  }
  EXPECT_EQ(count_files(), 0u);
  auto up = blobs.begin_upload();
  const std::string big(3 << 20, 'x');  // more than the 1 MiB write buffer
  up->append(big.data(), big.size());
  up->append("tail", 4);
  up->close();
  EXPECT_EQ(up->size(), big.size() + 4);
  EXPECT_EQ(read_file(up->local_path()), big + "tail");
  EXPECT_THROW(blobs.get("b.request"), IoError);
  up->commit("b.request");
  EXPECT_EQ(blobs.get("b.request"), big + "tail");
  up.reset();  // committed: destroying it keeps the payload
  EXPECT_EQ(blobs.get("b.request"), big + "tail");
  EXPECT_EQ(count_files(), 1u);
}

}  // namespace
}  // namespace leukocrypt::service
