// Leases and workers: an expired claim goes back to the queue and its old holder can no longer
// finish it; a SIGKILLed worker's job is run by another once the lease lapses; a job that keeps
// killing its workers fails after a bounded number of attempts, with the reason. Runs on SQLite
// and, under with_postgres.sh, on PostgreSQL (service_tests_postgresql).
#include "service/worker.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "fake_runner.h"
#include "test_dir.h"
#include "test_store.h"

namespace leukocrypt::service {
namespace {

using namespace std::chrono_literals;
using testing::add_job;
using testing::FakeRunner;

StoreConfig shared_store(const leukocrypt::testing::TempDir& dir) { return leukocrypt::testing::test_store(dir / "jobs.db"); }

TEST(JobStoreLeases, ExpiredLeaseIsRequeuedAndTheOldHolderCannotFinish) {
  leukocrypt::testing::TempDir dir;
  JobStore s(shared_store(dir), JobStore::Access::kShared);
  auto id = add_job(s, {1});
  auto first = s.claim_next("w1", 0.05);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->worker, "w1");
  EXPECT_EQ(s.requeue_expired(), 0);  // not yet
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(s.requeue_expired(), 1);
  auto pending = s.get_job(id);
  EXPECT_EQ(pending->state, JobState::kPending);
  EXPECT_NE(pending->error.find("lease of worker w1 expired"), std::string::npos) << pending->error;
  auto second = s.claim_next("w2", 30);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_FALSE(s.renew_lease(id, "w1", 30));
  EXPECT_TRUE(s.renew_lease(id, "w2", 30));
  EXPECT_FALSE(s.finish_job(id, "FROM-W1", {}, {}, "w1"));
  EXPECT_FALSE(s.fail_claimed_job(id, "w1", "late failure"));
  EXPECT_TRUE(s.finish_job(id, "FROM-W2", {}, {}, "w2"));
  EXPECT_EQ(s.read_result(id), "FROM-W2");
  EXPECT_EQ(s.get_job(id)->error, "");
  std::size_t results = 0;
  for (const auto& e : std::filesystem::directory_iterator(s.blob_dir()))
    results += e.path().extension() == ".result";
  EXPECT_EQ(results, 1u);  // w1's file was removed, w2's kept
}

TEST(JobStoreLeases, RenewedLeaseIsNotRequeued) {
  leukocrypt::testing::TempDir dir;
  JobStore s(shared_store(dir), JobStore::Access::kShared);
  auto id = add_job(s, {1});
  ASSERT_TRUE(s.claim_next("w1", 0.3));
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(s.renew_lease(id, "w1", 0.3));
    EXPECT_EQ(s.requeue_expired(), 0);
  }
  EXPECT_EQ(s.get_job(id)->state, JobState::kRunning);
}

TEST(Worker, RunsAClaimedJobAndStoresItsResult) {
  leukocrypt::testing::TempDir dir;
  JobStore s(shared_store(dir), JobStore::Access::kShared);
  FakeRunner runner;
  runner.delay_ms = 300;  // several heartbeats at a 0.3 s lease
  auto id = add_job(s, {21});
  Worker w(s, runner, {"w1", 0.3, 3});
  ASSERT_NO_FATAL_FAILURE(testing::expect_claimed_and_done(s, w, id, {42}));
}

TEST(Worker, PoisonJobFailsAfterBoundedAttemptsWithTheReason) {
  leukocrypt::testing::TempDir dir;
  JobStore s(shared_store(dir), JobStore::Access::kShared);
  auto id = add_job(s, {1});
  FakeRunner runner;
  // Three workers each "die" holding it: claimed, never renewed.
  for (int i = 0; i < 3; ++i) {
    Worker dying(s, runner, {"dying-" + std::to_string(i), 0.05, 3});
    ASSERT_TRUE(dying.claim());
    std::this_thread::sleep_for(80ms);
  }
  Worker w(s, runner, {"w", 0.05, 3});
  EXPECT_FALSE(w.claim());  // the fourth claim fails it instead
  auto j = s.get_job(id);
  EXPECT_EQ(j->state, JobState::kFailed);
  EXPECT_EQ(j->error_code, "too_many_attempts");
  EXPECT_NE(j->error.find("gave up after 3 attempts"), std::string::npos) << j->error;
  EXPECT_NE(j->error.find("lease of worker dying-2 expired"), std::string::npos) << j->error;
  EXPECT_EQ(runner.runs.load(), 0);
}

// A real process holding the claim, killed with SIGKILL mid-job: another worker runs the job once
// the lease lapses, and the result is the one it computed.
TEST(WorkerProcesses, SigkilledWorkersJobIsRunByAnotherAfterTheLease) {
  leukocrypt::testing::TempDir dir;
  const auto config = shared_store(dir);
  std::string id;
  {
    JobStore s(config, JobStore::Access::kShared);
    id = add_job(s, {5});
  }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    JobStore s(config, JobStore::Access::kShared);
    FakeRunner runner;
    runner.delay_ms = 60000;  // "mid-task" for a minute
    Worker w(s, runner, {"doomed", 0.5, 3});
    auto job = w.claim();
    char c = job ? 1 : 0;
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    if (job) w.run(*job);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 1);
  std::this_thread::sleep_for(700ms);  // the heartbeat renews: still the child's
  JobStore s(config, JobStore::Access::kShared);
  FakeRunner runner;
  Worker other(s, runner, {"other", 0.5, 3});
  EXPECT_FALSE(other.claim());
  EXPECT_EQ(s.get_job(id)->worker, "doomed");
  ::kill(child, SIGKILL);
  int st = 0;
  ::waitpid(child, &st, 0);
  std::optional<JobRecord> job;
  for (int i = 0; i < 100 && !job; ++i) {
    std::this_thread::sleep_for(50ms);
    job = other.claim();
  }
  ASSERT_TRUE(job) << "the killed worker's job was never re-queued";
  EXPECT_EQ(job->attempts, 2);
  other.run(*job);
  auto done = s.get_job(id);
  ASSERT_EQ(done->state, JobState::kDone) << done->error;
  EXPECT_EQ(testing::read_result(s.read_result(id)), (std::vector<std::uint64_t>{10}));
  EXPECT_EQ(runner.runs.load(), 1);
  ::close(ready[0]);
  ::close(ready[1]);
}

}  // namespace
}  // namespace leukocrypt::service
