// Fixed-size thread pool for independent ciphertext/image work. parallel_for splits an index range
// into chunks; exceptions thrown by tasks are rethrown on the calling thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace leukocrypt {

class ThreadPool {
 public:
  // threads == 0 means std::thread::hardware_concurrency() (or LEUKOCRYPT_THREADS if set).
  explicit ThreadPool(std::size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const { return workers_.empty() ? 1 : workers_.size(); }

  // Runs fn(i) for i in [begin, end) across the pool and waits. Safe to call from one thread at a
  // time per pool; nested calls from inside a task run serially on the calling worker.
  void parallel_for(std::size_t begin, std::size_t end, const std::function<void(std::size_t)>& fn);

  // Process-wide default pool.
  static ThreadPool& global();

  // Default worker count: LEUKOCRYPT_THREADS env var, else hardware concurrency.
  static std::size_t default_threads();

 private:
  void worker_loop();

  std::vector<std::thread> workers_;
  std::queue<std::function<void()>> tasks_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

// Intra-operation parallelism for one homomorphic operation on a ring of degree ring_n: fn(0..count-1)
// on the global pool when ring_n >= 4096 (smaller rings are not worth a task), serially otherwise,
// when called from a pool task (nesting is serial), or with LEUKOCRYPT_INTRAOP=off (for A/B
// measurements). Used by the engine's lone key switches, squares and NTT conversions.
void parallel_for_ring(std::size_t ring_n, std::size_t count, const std::function<void(std::size_t)>& fn);

}  // namespace leukocrypt
