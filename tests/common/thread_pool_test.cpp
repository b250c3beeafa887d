// Thread pool: every index runs exactly once; exceptions reach the caller.
#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace leukocrypt {

TEST(ThreadPool, RunsEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(0, hits.size(), [&](std::size_t i) { hits[i]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, PropagatesExceptions) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(0, 100, [](std::size_t i) { if (i == 42) throw std::runtime_error("x"); }),
               std::runtime_error);
  // Still usable afterwards.
  std::atomic<int> n{0};
  pool.parallel_for(0, 10, [&](std::size_t) { n++; });
  EXPECT_EQ(n.load(), 10);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<int> n{0};
  pool.parallel_for(0, 4, [&](std::size_t) { pool.parallel_for(0, 5, [&](std::size_t) { n++; }); });
  EXPECT_EQ(n.load(), 20);
}

// Several threads (an HTTP handler and job workers in the service) call parallel_for on one pool at
// once, many short calls each: every call must finish with its own indices and nothing may touch a
// caller's stack after it returns (run under the sanitizer build to see the latter).
TEST(ThreadPool, ConcurrentCallersFromManyThreads) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 2000; ++rep) {
        std::vector<int> hits(7, 0);
        pool.parallel_for(0, hits.size(), [&](std::size_t i) { hits[i]++; });
        for (int h : hits) bad += h != 1;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace leukocrypt
