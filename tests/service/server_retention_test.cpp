// Retention and storage (issue 11, item 4): owners delete jobs and keys, finished jobs expire after
// the retention time, files that no row names are collected at start, and a full disk is a 507
// that leaves nothing half-written (simulated with disk_writer's test hook).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "common/paths.h"
#include "server_fixture.h"

namespace leukocrypt::service {
namespace {

using namespace testing;
namespace fs = std::filesystem;

// Names of the files in the payload directory.
std::set<std::string> blob_files(const JobStore& store) {
  auto dir = store.blob_dir();
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

bool has_file_of(const JobStore& store, const std::string& id) {
  for (const auto& f : blob_files(store))
    if (f.find(id) != std::string::npos) return true;
  return false;
}

struct DiskSpaceReset {
  ~DiskSpaceReset() { simulate_free_disk_space_for_tests(-1); }
};

TEST_F(ServiceServer, OwnersDeleteJobsAndKeys) {
  start();
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  auto done = submit(c, kAlice, make_request("ka", {1}));
  ASSERT_EQ(wait_job(c, kAlice, done)["status"], "done");
  expect_error(c.Delete(("/v1/jobs/" + done).c_str(), auth(kBob)), 404, "job_not_found");
  expect_error(c.Delete("/v1/keys/ka", auth(kBob)), 404, "key_not_found");
  // A key with an unfinished job cannot go.
  runner.delay_ms = 3000;
  auto pending = submit(c, kAlice, make_request("ka", {2}));
  expect_error(c.Delete("/v1/keys/ka", auth(kAlice)), 409, "key_in_use");
  for (const auto& id : {done, pending}) {
    auto r = c.Delete(("/v1/jobs/" + id).c_str(), auth(kAlice));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    expect_error(c.Get(("/v1/jobs/" + id).c_str(), auth(kAlice)), 404, "job_not_found");
    expect_error(c.Delete(("/v1/jobs/" + id).c_str(), auth(kAlice)), 404, "job_not_found");
  }
  EXPECT_TRUE(eventually([&] { return !has_file_of(*store, done) && !has_file_of(*store, pending); }));
  auto r = c.Delete("/v1/keys/ka", auth(kAlice));
  EXPECT_EQ(r->status, 200) << r->body;
  expect_error(c.Get("/v1/keys/ka", auth(kAlice)), 404, "key_not_found");
  EXPECT_TRUE(eventually([&] {
    for (const auto& f : blob_files(*store))
      if (f.rfind("key-", 0) == 0) return false;
    return true;
  }));
  EXPECT_EQ(store->count_queued(), 0u);
  healthy();
}

TEST_F(ServiceServer, DeletingARunningJobStopsItAndLeavesNoFiles) {
  runner.delay_ms = 3000;
  start();
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  auto id = submit(c, kAlice, make_request("ka", {3}));
  ASSERT_TRUE(eventually([&] {
    auto j = store->find_job("alice", id);
    return j && j->state == JobState::kRunning;
  }));
  auto r = c.Delete(("/v1/jobs/" + id).c_str(), auth(kAlice));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_json(r)["was"], "running");
  // The worker stops at its next progress report and records nothing.
  EXPECT_TRUE(eventually([&] { return body_json(c.Get("/healthz"))["queued"] == 0 && !has_file_of(*store, id); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(runner.runs, 0);
  EXPECT_FALSE(has_file_of(*store, id));
  runner.delay_ms = 0;
  auto next = submit(c, kAlice, make_request("ka", {4}));
  EXPECT_EQ(wait_job(c, kAlice, next)["status"], "done");
}

TEST_F(ServiceServer, FinishedJobsExpireAfterTheRetentionTime) {
  auto o = options();
  o.retention_seconds = 4;  // long enough for both waits below on a loaded machine
  o.sweep_interval_seconds = 0.2;
  start(std::move(o));
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  auto done = submit(c, kAlice, make_request("ka", {1}));
  auto refused = submit(c, kAlice, make_request("ka", {0}));
  ASSERT_EQ(wait_job(c, kAlice, done)["status"], "done");
  ASSERT_EQ(wait_job(c, kAlice, refused)["status"], "failed");
  EXPECT_TRUE(eventually([&] {
    auto r = c.Get(("/v1/jobs/" + done).c_str(), auth(kAlice));
    auto f = c.Get(("/v1/jobs/" + refused).c_str(), auth(kAlice));
    return r && r->status == 404 && f && f->status == 404;
  }));
  EXPECT_TRUE(eventually([&] { return !has_file_of(*store, done) && !has_file_of(*store, refused); }));
  EXPECT_TRUE(store->find_key("alice", "ka"));  // keys are not subject to the job retention
}

TEST(JobStoreRetention, ExpiryTouchesOnlyFinishedJobs) {
  leukocrypt::testing::TempDir dir;
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  auto pending = s.create_job("a", {"k", 7, "m", 1}, "R1");
  auto running = s.create_job("a", {"k", 7, "m", 1}, "R2");
  auto done = s.create_job("a", {"k", 7, "m", 1}, "R3");
  ASSERT_EQ(s.claim_next()->id, pending);
  s.requeue_running();
  ASSERT_EQ(s.claim_next()->id, pending);
  ASSERT_EQ(s.claim_next()->id, running);
  ASSERT_EQ(s.claim_next()->id, done);
  ASSERT_TRUE(s.finish_job(done, "OUT", {}, {}));
  EXPECT_EQ(s.expire_finished(1e12), 1u);  // "before the far future": every finished job
  EXPECT_FALSE(s.get_job(done));
  EXPECT_TRUE(s.get_job(pending));
  EXPECT_TRUE(s.get_job(running));
  EXPECT_EQ(s.read_request(running), "R2");
}

TEST_F(ServiceServer, StartupRemovesOrphanFiles) {
  // A done job whose files must survive, and a running one (its stale result is an orphan).
  store->put_key("alice", {"ka", kParams}, make_keys("ka"));
  auto kept = store->create_job("alice", {"ka", kParams, kModel, 1}, make_request("ka", {5}));
  ASSERT_TRUE(store->claim_next());
  ASSERT_TRUE(store->finish_job(kept, testing::make_request("ka", {10}), {}, {}));
  auto running = store->create_job("alice", {"ka", kParams, kModel, 1}, make_request("ka", {6}));
  // Claimed by a server that was then killed (a shared store recovers it once its lease lapses).
  ASSERT_EQ(store->claim_next("killed-server", 0.01)->id, running);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto dir = store->blob_dir();
  // What kill -9 leaves: a request renamed into place before its INSERT, a result written before
  // its UPDATE, a key file before its row, temporary files.
  for (const char* f : {"0123456789abcdef.request", "0123456789abcdef.result", "key-0123456789abcdef.lcx",
                        ".0123456789abcdef.result.tmp12345"})
    write_file_atomic(dir / f, "orphan");
  write_file_atomic(dir / (running + ".result"), "stale");
  write_file_atomic(dir / "unrelated.txt", "not ours: kept");
  start();
  EXPECT_EQ(server->orphans_removed(), 5u);
  auto files = blob_files(*store);
  EXPECT_EQ(files.count(kept + ".request") + files.count(store->get_job(kept)->result_file), 2u);
  EXPECT_EQ(files.count(running + ".request"), 1u);
  EXPECT_EQ(files.count("unrelated.txt"), 1u);
  std::size_t keys = 0;
  for (const auto& f : files) keys += f.rfind("key-", 0) == 0;
  EXPECT_EQ(keys, 1u);
  auto c = client(port);
  auto r = c.Get(("/v1/jobs/" + kept + "/result").c_str(), auth(kAlice));
  ASSERT_EQ(r->status, 200);
  // Re-queued and run again; its result is the new one, not the stale file.
  EXPECT_EQ(wait_job(c, kAlice, running)["status"], "done");
  r = c.Get(("/v1/jobs/" + running + "/result").c_str(), auth(kAlice));
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(testing::read_result(r->body), (std::vector<std::uint64_t>{12}));
}

TEST_F(ServiceServer, FullDiskIs507AndNothingIsCorrupted) {
  DiskSpaceReset reset;
  start();
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  auto done = submit(c, kAlice, make_request("ka", {7}));
  ASSERT_EQ(wait_job(c, kAlice, done)["status"], "done");
  const auto before = blob_files(*store);

  simulate_free_disk_space_for_tests(100);
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("ka", std::vector<std::uint64_t>(50, 1)), bin), 507,
               "insufficient_storage");
  expect_error(c.Post("/v1/keys", auth(kAlice), make_keys("kb"), bin), 507, "insufficient_storage");
  healthy();
  EXPECT_EQ(blob_files(*store), before);  // no partial upload, no temporary file, no new key file
  EXPECT_EQ(store->count_queued(), 0u);
  EXPECT_FALSE(store->find_key("alice", "kb"));
  auto r = c.Get(("/v1/jobs/" + done + "/result").c_str(), auth(kAlice));
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(testing::read_result(r->body), (std::vector<std::uint64_t>{14}));

  // The disk fills while a job runs: the job fails with a clear code, no result file is left.
  simulate_free_disk_space_for_tests(-1);
  runner.delay_ms = 1000;
  auto id = submit(c, kAlice, make_request("ka", {8}));
  ASSERT_TRUE(eventually([&] { return store->find_job("alice", id)->state == JobState::kRunning; }));
  simulate_free_disk_space_for_tests(0);
  auto j = wait_job(c, kAlice, id);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error_code"], "insufficient_storage");
  EXPECT_NE(j["error"].get<std::string>().find("disk is full"), std::string::npos) << j.dump();
  EXPECT_EQ(blob_files(*store).count(id + ".result"), 0u);
  for (const auto& f : blob_files(*store)) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;

  // Space again: everything works.
  simulate_free_disk_space_for_tests(-1);
  runner.delay_ms = 0;
  auto again = submit(c, kAlice, make_request("ka", {9}));
  EXPECT_EQ(wait_job(c, kAlice, again)["status"], "done");
}

// The same on a real full filesystem: scripts/full_disk_check.sh mounts a 2 MiB tmpfs and runs
// this test with LEUKOCRYPT_SMALL_FS pointing at it. Without it the test is skipped (it says so).
TEST(ServiceServerRealDisk, FullFilesystemIs507AndNothingIsCorrupted) {
  const char* small = std::getenv("LEUKOCRYPT_SMALL_FS");
  if (!small) GTEST_SKIP() << "needs a small filesystem: run scripts/full_disk_check.sh (mounts a 2 MiB tmpfs)";
  std::signal(SIGPIPE, SIG_IGN);
  fs::path dir = fs::path(small) / ("run-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  FakeRunner runner;
  JobStore store(leukocrypt::testing::test_store(dir / "jobs.db"));
  auto o = options();
  o.max_queued_per_client = o.max_queued_jobs = 1000;
  o.max_cells_per_job = o.max_queued_cells_per_client = 1 << 20;
  o.max_batches_per_job = 1000;
  Server server(std::move(o), store, runner);
  const int port = server.start();
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  std::vector<std::uint64_t> values(8000, 3);  // ~130 KB per request, ~65 KB per result
  std::vector<std::string> done;
  int full = 0;
  for (int i = 0; i < 100 && full == 0; ++i) {
    auto r = c.Post("/v1/jobs", auth(kAlice), make_request("ka", values), bin);
    ASSERT_TRUE(r);
    if (r->status == 507) {
      auto j = body_json(r);
      EXPECT_EQ(j["error"]["code"], "insufficient_storage") << r->body;
      ++full;
      break;
    }
    ASSERT_EQ(r->status, 202) << r->body;
    auto id = body_json(r)["job_id"].get<std::string>();
    auto st = wait_job(c, kAlice, id);
    if (st["status"] == "failed") {  // the result did not fit: a clear code, no result file
      EXPECT_EQ(st["error_code"], "insufficient_storage") << st.dump();
      EXPECT_EQ(blob_files(store).count(id + ".result"), 0u);
      ++full;
      break;
    }
    ASSERT_EQ(st["status"], "done");
    done.push_back(id);
  }
  ASSERT_EQ(full, 1) << "the filesystem never filled";
  EXPECT_EQ(store.count_partial_uploads(), 0u);
  for (const auto& f : blob_files(store)) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  for (const auto& id : done) {  // every earlier result intact
    auto r = c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice));
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(testing::read_result(r->body), std::vector<std::uint64_t>(values.size(), 6));
  }
  // Deleting jobs frees space: the service works again.
  for (const auto& id : done) EXPECT_EQ(c.Delete(("/v1/jobs/" + id).c_str(), auth(kAlice))->status, 200);
  auto r = c.Post("/v1/jobs", auth(kAlice), make_request("ka", {4}), bin);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(wait_job(c, kAlice, body_json(r)["job_id"])["status"], "done");
  std::cout << "full filesystem reached after " << done.size() << " jobs\n";
  server.stop();
}

}  // namespace
}  // namespace leukocrypt::service
