// Thread pool implementation: a shared task queue with chunked parallel_for.
#include "common/thread_pool.h"

#include <atomic>
#include <cstdlib>
#include <exception>
#include <string>

namespace leukocrypt {

namespace {
thread_local bool tl_inside_pool = false;
}

std::size_t ThreadPool::default_threads() {
  if (const char* env = std::getenv("LEUKOCRYPT_THREADS")) {
    try {
      long v = std::stol(env);
      if (v >= 1 && v <= 1024) return static_cast<std::size_t>(v);
    } catch (...) {
    }
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : hc;
}

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = default_threads();
  if (threads <= 1) return;  // serial: parallel_for runs inline
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::worker_loop() {
  tl_inside_pool = true;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !tasks_.empty(); });
      if (stop_ && tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop();
    }
    task();
  }
}

void ThreadPool::parallel_for(std::size_t begin, std::size_t end,
                              const std::function<void(std::size_t)>& fn) {
  if (end <= begin) return;
  const std::size_t n = end - begin;
  if (workers_.empty() || n == 1 || tl_inside_pool) {
    for (std::size_t i = begin; i < end; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{begin};
  std::atomic<std::size_t> done_workers{0};
  std::exception_ptr error;
  std::mutex err_mu;
  std::mutex done_mu;
  std::condition_variable done_cv;
  const std::size_t jobs = std::min(n, workers_.size());
  auto body = [&] {
    for (;;) {
      std::size_t i = next.fetch_add(1);
      if (i >= end) break;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (!error) error = std::current_exception();
        next.store(end);
      }
    }
    if (done_workers.fetch_add(1) + 1 == jobs) {
      std::lock_guard<std::mutex> lk(done_mu);
      done_cv.notify_one();
    }
  };
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::size_t j = 0; j < jobs; ++j) tasks_.push(body);
  }
  cv_.notify_all();
  std::unique_lock<std::mutex> lk(done_mu);
  done_cv.wait(lk, [&] { return done_workers.load() == jobs; });
  if (error) std::rethrow_exception(error);
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

}  // namespace leukocrypt
