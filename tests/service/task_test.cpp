// Jobs split into tasks: several workers finish one job together, a task whose worker died is run
// again once its lease lapses, a poison task fails its job with the reason, and every job is
// assembled exactly once with the exact result — across threads and across processes. Runs on
// SQLite and, under with_postgres.sh, on PostgreSQL (service_tests_postgresql).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "common/paths.h"
#include "fake_runner.h"
#include "service/worker.h"
#include "test_dir.h"
#include "test_store.h"

namespace leukocrypt::service {
namespace {

using namespace std::chrono_literals;
using testing::add_job;
using testing::FakeRunner;
using testing::kModel;
using testing::kParams;

StoreConfig store_config(const leukocrypt::testing::TempDir& dir) { return leukocrypt::testing::test_store(dir / "jobs.db"); }

std::vector<std::uint64_t> values_from(std::uint64_t first, std::size_t n) {
  std::vector<std::uint64_t> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

std::vector<std::uint64_t> doubled(std::vector<std::uint64_t> v) {
  for (auto& x : v) x *= 2;
  return v;
}

// Each JobTasks test: a fresh directory and a fake runner; shared() opens the shared store in it.
class JobTasks : public ::testing::Test {
 protected:
  JobStore& shared() {
    if (!store_) store_ = std::make_unique<JobStore>(store_config(dir), JobStore::Access::kShared);
    return *store_;
  }
  leukocrypt::testing::TempDir dir;
  FakeRunner runner;

 private:
  std::unique_ptr<JobStore> store_;  // closed before dir is removed
};

TEST_F(JobTasks, WorkerSplitsAJobAndTwoWorkersShareItsTasks) {
  JobStore& s = shared();
  runner.split = 4;
  const auto values = values_from(1, 10);
  auto id = add_job(s, values);
  Worker w1(s, runner, {"w1", 30, 3}), w2(s, runner, {"w2", 30, 3});
  auto a = w1.claim();
  ASSERT_TRUE(a) << "no claim";
  ASSERT_TRUE(a->task) << "not split: " << runner.task_count(wire::ContainerFile::open(s.request_path(id), "r"));
  EXPECT_EQ(a->id, id);
  EXPECT_EQ(a->task->index, 0u);
  EXPECT_EQ(a->task->count, 4u);
  auto b = w2.claim();
  ASSERT_TRUE(b && b->task);
  EXPECT_EQ(b->task->index, 1u);
  EXPECT_EQ(s.task_progress(id), (std::pair<std::size_t, std::size_t>{0, 4}));
  w1.run(*a);
  w2.run(*b);
  EXPECT_EQ(s.task_progress(id), (std::pair<std::size_t, std::size_t>{2, 4}));
  EXPECT_EQ(s.get_job(id)->state, JobState::kRunning);
  for (auto c = w2.claim(); c; c = w2.claim()) w2.run(*c);
  auto done = s.get_job(id);
  ASSERT_EQ(done->state, JobState::kDone) << done->error;
  EXPECT_EQ(testing::read_result(s.read_result(id)), doubled(values));
  EXPECT_EQ(runner.assemblies.load(), 1);
  EXPECT_EQ(runner.task_runs.load(), 4);
  EXPECT_EQ(done->info.value("tasks", 0), 4);
  EXPECT_EQ(done->timings.value("tasks_fake", 0.0), 4.0);
  EXPECT_EQ(s.task_progress(id), (std::pair<std::size_t, std::size_t>{0, 0}));  // rows gone after assembly
  EXPECT_EQ(s.remove_orphans(), 0u);  // and no part files left
}

// Many threads, many jobs, tasks finishing at the same moments: each job assembled exactly once.
TEST_F(JobTasks, ConcurrentFinishersAssembleEachJobExactlyOnce) {
  JobStore& s = shared();
  runner.split = 6;
  std::map<std::string, std::vector<std::uint64_t>> jobs;
  for (int j = 0; j < 8; ++j) {
    auto v = values_from(100 * j + 1, 6 + j);
    jobs[add_job(s, v)] = v;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      Worker w(s, runner, {"w" + std::to_string(t), 30, 3});
      for (auto c = w.claim(); c; c = w.claim()) w.run(*c);
    });
  for (auto& t : threads) t.join();
  for (const auto& [id, v] : jobs) {
    auto j = s.get_job(id);
    ASSERT_EQ(j->state, JobState::kDone) << j->error;
    EXPECT_EQ(testing::read_result(s.read_result(id)), doubled(v));
  }
  EXPECT_EQ(runner.assemblies.load(), 8);
  EXPECT_EQ(runner.task_runs.load(), 8 * 6);
}

// A task whose lease lapsed is run by another worker; the old holder's late finish is dropped.
TEST_F(JobTasks, LapsedTaskIsRunByAnotherAndTheLateFinishIsDropped) {
  JobStore& s = shared();
  runner.split = 2;
  const auto values = values_from(7, 4);
  auto id = add_job(s, values);
  Worker slow(s, runner, {"slow", 0.05, 3});
  auto lapsed = slow.claim();
  ASSERT_TRUE(lapsed && lapsed->task);
  std::this_thread::sleep_for(150ms);
  Worker other(s, runner, {"other", 30, 3});
  auto again = other.claim();  // requeues the lapsed task, takes it back first (oldest job, index 0)
  ASSERT_TRUE(again && again->task);
  EXPECT_EQ(again->task->index, lapsed->task->index);
  EXPECT_EQ(again->task->attempts, 2);
  EXPECT_FALSE(s.renew_task(*lapsed, 30));
  auto late = s.finish_task(*lapsed, "LATE", {}, {}, [](const std::vector<TaskOutput>&) -> AssembledResult {
    ADD_FAILURE() << "a lost claim must never assemble";
    return {};
  });
  EXPECT_EQ(late, JobStore::TaskFinish::kLost);
  other.run(*again);
  for (auto c = other.claim(); c; c = other.claim()) other.run(*c);
  ASSERT_EQ(s.get_job(id)->state, JobState::kDone);
  EXPECT_EQ(s.get_job(id)->attempts, 2);  // its most-attempted task's
  EXPECT_EQ(testing::read_result(s.read_result(id)), doubled(values));
  EXPECT_EQ(runner.assemblies.load(), 1);
}

// A task that keeps losing its workers fails the whole job with the reason; its other tasks stop.
TEST_F(JobTasks, PoisonTaskFailsItsJobWithTheReason) {
  JobStore& s = shared();
  runner.split = 3;
  auto id = add_job(s, values_from(1, 3));
  for (int attempt = 0; attempt < 2; ++attempt) {
    Worker dying(s, runner, {"dying-" + std::to_string(attempt), 0.02, 2});
    auto c = dying.claim();
    ASSERT_TRUE(c && c->task);
    EXPECT_EQ(c->task->index, 0u);  // the lapsed task 0 always comes back first
    std::this_thread::sleep_for(60ms);
  }
  Worker w(s, runner, {"w", 30, 2});
  auto next = w.claim();  // task 0 a third time: more than max_attempts = 2, the job fails
  ASSERT_TRUE(!next || next->id != id);
  auto j = s.get_job(id);
  ASSERT_EQ(j->state, JobState::kFailed);
  EXPECT_EQ(j->error_code, "too_many_attempts");
  EXPECT_NE(j->error.find("task 0 gave up after 2 attempts"), std::string::npos) << j->error;
  EXPECT_NE(j->error.find("lease of worker dying-1 expired"), std::string::npos) << j->error;
  EXPECT_EQ(s.task_progress(id), (std::pair<std::size_t, std::size_t>{0, 0}));
  EXPECT_EQ(runner.task_runs.load(), 0);
}

// A task that throws fails its job; a task of a deleted job stops at its next progress report.
TEST_F(JobTasks, DeletedJobsTasksAreDroppedAndLeaveNoFiles) {
  JobStore& s = shared();
  runner.split = 2;
  auto id = add_job(s, values_from(1, 4));
  Worker w(s, runner, {"w", 30, 3});
  auto first = w.claim();
  ASSERT_TRUE(first && first->task);
  w.run(*first);  // one part stored
  auto second = w.claim();
  ASSERT_TRUE(second && second->task);
  ASSERT_TRUE(s.delete_job("alice", id));
  EXPECT_FALSE(s.renew_task(*second, 30));
  w.run(*second);  // its finish finds the job gone
  EXPECT_FALSE(s.get_job(id));
  EXPECT_EQ(runner.assemblies.load(), 0);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(s.blob_dir()))
    files += e.path().extension() == ".task" || e.path().extension() == ".result";
  EXPECT_EQ(files, 0u);
}

// One process (SQLite, no leases): a restart puts the running tasks of a split job back, keeps the
// job split, and the next run finishes it exactly.
TEST_F(JobTasks, SingleProcessRestartRequeuesRunningTasks) {
  if (leukocrypt::testing::testing_postgres()) GTEST_SKIP() << "startup recovery of a single-process store";
  const auto values = values_from(3, 5);
  std::string id;
  runner.split = 5;
  {
    JobStore s(dir / "jobs.db");
    id = add_job(s, values);
    Worker w(s, runner, {"server", 0, 3});
    auto a = w.claim();
    ASSERT_TRUE(a && a->task);
    w.run(*a);
    ASSERT_TRUE(w.claim());  // running when the process "dies"
  }
  JobStore s(dir / "jobs.db");
  EXPECT_EQ(s.requeue_running(), 1);  // the task, not the job
  EXPECT_EQ(s.get_job(id)->state, JobState::kRunning);
  EXPECT_EQ(s.task_progress(id), (std::pair<std::size_t, std::size_t>{1, 5}));
  Worker w(s, runner, {"server", 0, 3});
  for (auto c = w.claim(); c; c = w.claim()) w.run(*c);
  ASSERT_EQ(s.get_job(id)->state, JobState::kDone);
  EXPECT_EQ(testing::read_result(s.read_result(id)), doubled(values));
  EXPECT_EQ(runner.assemblies.load(), 1);
}

// Shared stores: the full check of an upload whose API node died is taken over by another node
// once it is a lease old; a check under way on a live node is not.
TEST(JobStoreValidation, UnfinishedCheckOfADeadNodeIsTakenOver) {
  leukocrypt::testing::TempDir dir;
  JobStore s(store_config(dir), JobStore::Access::kShared);
  s.put_key("alice", {"ka", kParams}, testing::make_keys("ka"));
  auto id = leukocrypt::testing::store_upload(s, "alice", {"ka", kParams, kModel, 2}, testing::make_request("ka", {1, 2}));
  ASSERT_TRUE(s.start_validation(id, "node-a", 0.2));
  EXPECT_FALSE(s.start_validation(id, "node-b", 0.2));  // node A holds it
  EXPECT_FALSE(s.claim_validation("node-b", 0.2));
  std::this_thread::sleep_for(300ms);  // node A died: its check lapsed
  auto taken = s.claim_validation("node-b", 0.2);
  ASSERT_TRUE(taken);
  EXPECT_EQ(*taken, id);
  EXPECT_FALSE(s.start_validation(id, "node-a", 0.2));
  EXPECT_TRUE(s.start_validation(id, "node-b", 0.2));
  EXPECT_TRUE(s.mark_validated(id, {"ka", kParams, kModel, 2}, 0.01));
  EXPECT_EQ(s.get_job(id)->state, JobState::kPending);
  EXPECT_FALSE(s.claim_validation("node-c", 0.2));
}

// Worker processes on one database, each logging the jobs it assembled: every job assembled by
// exactly one of them, every result exact.
TEST(JobTaskProcesses, ForkedWorkersAssembleEachJobOnceWithExactResults) {
  leukocrypt::testing::TempDir dir;
  const auto config = store_config(dir);
  std::map<std::string, std::vector<std::uint64_t>> jobs;
  {
    JobStore s(config, JobStore::Access::kShared);
    for (int j = 0; j < 12; ++j) {
      auto v = values_from(1000 * j + 1, 4 + j % 3);
      jobs[add_job(s, v)] = v;
    }
  }
  const auto log = dir / "assembled.log";
  std::vector<pid_t> children;
  for (int p = 0; p < 3; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        JobStore s(config, JobStore::Access::kShared);
        FakeRunner runner;
        runner.split = 4;
        Worker w(s, runner, {"proc" + std::to_string(p), 30, 3});
        WorkerHooks hooks;
        hooks.on_task_end = [&](const JobRecord& c, JobStore::TaskFinish f, double, const RunOutput&) {
          if (f != JobStore::TaskFinish::kAssembled) return;
          int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
          const std::string line = c.id + "\n";
          if (fd < 0 || ::write(fd, line.data(), line.size()) != ssize_t(line.size())) code = 3;
          ::close(fd);
        };
        for (auto c = w.claim(); c; c = w.claim()) w.run(*c, hooks);
      } catch (...) {
        code = 2;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  std::map<std::string, int> assembled;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) assembled[line]++;
  JobStore s(config, JobStore::Access::kShared);
  for (const auto& [id, v] : jobs) {
    EXPECT_EQ(assembled[id], 1) << id;
    auto j = s.get_job(id);
    ASSERT_EQ(j->state, JobState::kDone) << j->error;
    EXPECT_EQ(testing::read_result(s.read_result(id)), doubled(v));
  }
  EXPECT_EQ(assembled.size(), jobs.size());
}

}  // namespace
}  // namespace leukocrypt::service
