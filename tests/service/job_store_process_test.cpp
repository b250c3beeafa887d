// Multi-process safety of the job store (issue 11, item 8): a second store on the same database
// is refused while the first is open (and allowed after it closes, or after its process dies);
// claims are atomic across processes: four forked processes claiming from one shared database
// run every job exactly once.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "common/error.h"
#include "service/job_store.h"
#include "test_dir.h"
#include "test_store.h"

namespace leukocrypt::service {
namespace {

TEST(JobStoreProcesses, SecondStoreOnTheSameDatabaseIsRefused) {
  testing::TempDir dir;
  auto first = std::make_unique<JobStore>(leukocrypt::testing::test_store(dir / "jobs.db"));
  try {
    JobStore second(leukocrypt::testing::test_store(dir / "jobs.db"));
    ADD_FAILURE() << "a second store opened the same database";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    // SQLite: "(pid N)"; PostgreSQL: "(pid N on HOST)", since the holder may be on another machine.
    EXPECT_NE(msg.find("in use by another process (pid " + std::to_string(::getpid())), std::string::npos) << msg;
    EXPECT_NE(msg.find("another --db"), std::string::npos) << msg;
  }
  first.reset();
  EXPECT_NO_THROW(JobStore(leukocrypt::testing::test_store(dir / "jobs.db")));
}

TEST(JobStoreProcesses, LockDiesWithItsProcess) {
  testing::TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    ::pause();  // killed by the parent, lock still held: the kernel must drop it
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_THROW(JobStore(leukocrypt::testing::test_store(dir / "jobs.db")), IoError);
  ::kill(child, SIGKILL);
  int st = 0;
  ::waitpid(child, &st, 0);
  EXPECT_NO_THROW(JobStore(leukocrypt::testing::test_store(dir / "jobs.db")));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(JobStoreProcesses, ClaimsAreAtomicAcrossProcesses) {
  testing::TempDir dir;
  constexpr int kJobs = 300, kProcesses = 4;
  std::set<std::string> all;
  {
    JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"), JobStore::Access::kShared);
    for (int i = 0; i < kJobs; ++i) all.insert(s.create_job("a", {"k", 7, "m", 1}, "R"));
  }
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"), JobStore::Access::kShared);
        std::ofstream out(dir / ("claimed-" + std::to_string(p)));
        for (int empty = 0; empty < 3;) {  // bounded: stops after three empty polls in a row
          auto job = s.claim_next();
          if (!job) {
            ++empty;
            continue;
          }
          empty = 0;
          if (job->attempts != 1) code = 3;  // claimed before by someone else
          out << job->id << "\n";
          s.finish_job(job->id, "OUT", {}, {});
        }
      } catch (...) {
        code = 4;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child exit " << st;
  }
  std::multiset<std::string> claimed;
  std::vector<std::size_t> per_process;
  for (int p = 0; p < kProcesses; ++p) {
    std::ifstream in(dir / ("claimed-" + std::to_string(p)));
    std::size_t n = 0;
    for (std::string id; std::getline(in, id); ++n) claimed.insert(id);
    per_process.push_back(n);
  }
  EXPECT_EQ(claimed.size(), std::size_t(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()), all);  // each exactly once
  JobStore s(leukocrypt::testing::test_store(dir / "jobs.db"));
  EXPECT_EQ(s.count_queued(), 0u);
}

}  // namespace
}  // namespace leukocrypt::service
