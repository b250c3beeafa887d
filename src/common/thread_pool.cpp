// Thread pool implementation: a shared task queue with chunked parallel_for.
#include "common/thread_pool.h"

#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
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
  // The state lives on the heap, shared with every queued task: a worker that finishes the last
  // chunk may still be inside notify when the caller wakes and returns, so nothing it touches may
  // live on the caller's stack. fn itself is only used before a task reports itself done.
  struct State {
    std::atomic<std::size_t> next;
    std::size_t end;
    std::size_t jobs;
    std::size_t done = 0;
    std::exception_ptr error;
    std::mutex mu;
    std::condition_variable cv;
  };
  auto st = std::make_shared<State>();
  st->next.store(begin);
  st->end = end;
  st->jobs = std::min(n, workers_.size());
  const auto* f = &fn;
  auto body = [st, f] {
    for (;;) {
      std::size_t i = st->next.fetch_add(1);
      if (i >= st->end) break;
      try {
        (*f)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(st->mu);
        if (!st->error) st->error = std::current_exception();
        st->next.store(st->end);
      }
    }
    std::lock_guard<std::mutex> lk(st->mu);
    if (++st->done == st->jobs) st->cv.notify_one();
  };
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::size_t j = 0; j < st->jobs; ++j) tasks_.push(body);
  }
  cv_.notify_all();
  std::unique_lock<std::mutex> lk(st->mu);
  st->cv.wait(lk, [&] { return st->done == st->jobs; });
  if (st->error) std::rethrow_exception(st->error);
}

void parallel_for_ring(std::size_t ring_n, std::size_t count, const std::function<void(std::size_t)>& fn) {
  static const bool enabled = [] {
    const char* v = std::getenv("LEUKOCRYPT_INTRAOP");
    return v == nullptr || std::string(v) != "off";
  }();
  if (!enabled || ring_n < 4096) {
    for (std::size_t i = 0; i < count; ++i) fn(i);
    return;
  }
  ThreadPool::global().parallel_for(0, count, fn);
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

}  // namespace leukocrypt
