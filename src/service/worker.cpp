// Lease-holding evaluation worker (see worker.h).
#include "service/worker.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/timer.h"
#include "service/disk_writer.h"
#include "service/wire/container.h"

namespace leukocrypt::service {
namespace {

// A store call that ends a claim, retried while the database is unreachable (a PostgreSQL
// restart takes a few seconds) for up to a lease's length, at least 5 s: without it a job that
// ran to its end during a restart was failed for the database's hiccup, or run once more after
// its lease lapsed. Other errors are final.
template <class F>
auto retry_unreachable(double lease_seconds, F&& f) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(lease_seconds, 5.0));
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    try {
      return f();
    } catch (const ConnectionLost&) {
      if (std::chrono::steady_clock::now() + pause >= deadline) throw;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
  }
}

}  // namespace

std::string default_worker_id() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + wire::random_id().substr(0, 6);
}

Worker::Worker(JobStore& store, const JobRunner& runner, WorkerOptions options)
    : store_(store), runner_(runner), opt_(std::move(options)) {
  if (opt_.id.empty()) opt_.id = default_worker_id();
}

// Tasks of jobs already split come first (they finish jobs that are under way); then a new job,
// which this worker splits when the runner says it has several independent tasks, and claims again.
std::optional<JobRecord> Worker::claim() {
  for (;;) {
    if (opt_.lease_seconds > 0) store_.requeue_expired();
    if (auto task = store_.claim_task(opt_.id, opt_.lease_seconds)) {
      if (task->task->attempts <= opt_.max_attempts) return task;
      const std::string why = task->task->error.empty() ? "the process running it stopped each time" : task->task->error;
      store_.fail_claimed_task(*task,
                               "task " + std::to_string(task->task->index) + " gave up after " +
                                   std::to_string(opt_.max_attempts) + " attempts (last: " + why + ")",
                               "too_many_attempts");
      log_event("task_poisoned", *task);
      continue;
    }
    auto job = store_.claim_next(opt_.id, opt_.lease_seconds);
    if (!job) return job;
    if (job->attempts > opt_.max_attempts) {
      const std::string why = job->error.empty() ? "the process running it stopped each time" : job->error;
      store_.fail_claimed_job(job->id, opt_.id,
                              "gave up after " + std::to_string(opt_.max_attempts) + " attempts (last: " + why + ")",
                              "too_many_attempts");
      log_event("job_poisoned", *job);
      continue;
    }
    std::size_t tasks = 1;
    try {
      tasks = runner_.task_count(wire::ContainerFile::open(store_.request_path(job->id), "stored request"));
    } catch (const std::exception& e) {
      log_event("task_count_failed", *job, "\"error\":" + nlohmann::json(e.what()).dump());
      return job;  // run() records why the request cannot be read
    }
    if (tasks <= 1) return job;
    if (store_.split_job(job->id, opt_.id, tasks)) log_event("job_split", *job, "\"tasks\":" + std::to_string(tasks));
  }
}

// The heartbeat renews the lease every third of its length; a renewal that finds the claim gone
// flips `held`, and the next progress report cancels the job.
void Worker::run(const JobRecord& job, const WorkerHooks& hooks) {
  std::atomic<bool> held{true};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread heartbeat;
  if (opt_.lease_seconds > 0) {
    heartbeat = std::thread([&] {
      std::unique_lock lock(mu);
      const auto period = std::chrono::duration<double>(opt_.lease_seconds / 3);
      while (!cv.wait_for(lock, period, [&] { return done; })) {
        try {
          const bool renewed = job.task ? store_.renew_task(job, opt_.lease_seconds)
                                        : store_.renew_lease(job.id, opt_.id, opt_.lease_seconds);
          if (!renewed) held = false;
        } catch (const std::exception& e) {
          // The database is unreachable: keep running; the lease may still hold when it is back.
          std::clog << "{\"event\":\"heartbeat_failed\",\"job\":\"" << job.id << "\",\"error\":\"" << e.what()
                    << "\"}" << std::endl;
        }
      }
    });
  }
  if (job.task)
    execute_task(job, hooks, [&] { return held.load(); });
  else
    execute(job, hooks, [&] { return held.load(); });
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  if (heartbeat.joinable()) heartbeat.join();
}

void Worker::execute_task(const JobRecord& c, const WorkerHooks& hooks, const std::function<bool()>& lease_held) {
  if (hooks.on_start) hooks.on_start(c);
  const std::size_t index = c.task->index, count = c.task->count;
  try {
    auto request = wire::ContainerFile::open(store_.request_path(c.id), "stored request");
    Timer t;
    RunOutput out = runner_.run_task(
        c.owner + "/" + c.key_id, [&] { return store_.read_key(c.owner, c.key_id); }, request, index, count,
        [&](double f) {
          if (!lease_held()) throw JobCancelled{};
          if (hooks.on_progress) hooks.on_progress(c, f);
        });
    nlohmann::json stages = nlohmann::json::object();
    for (auto& [name, s] : out.stages) stages[name] = s;
    stages["total"] = t.seconds();
    const double task_seconds = t.seconds();
    // The last task to finish joins the parts, under the store's transaction (exactly once).
    auto finish = retry_unreachable(opt_.lease_seconds, [&] { return store_.finish_task(c, out.result, stages, out.info, [&](const std::vector<TaskOutput>& parts) {
      std::vector<std::string> bytes;
      AssembledResult a;
      a.timings = c.timings.is_object() ? c.timings : nlohmann::json::object();  // "validate"
      nlohmann::json sums = nlohmann::json::object();
      for (const auto& p : parts) {
        bytes.push_back(p.part);
        if (p.timings.is_object())
          for (auto it = p.timings.begin(); it != p.timings.end(); ++it)
            if (it.value().is_number()) sums[it.key()] = sums.value(it.key(), 0.0) + it.value().get<double>();
      }
      // Stage seconds summed over the tasks (CPU spent, not wall time: tasks overlap).
      for (auto it = sums.begin(); it != sums.end(); ++it) a.timings["tasks_" + it.key()] = it.value();
      Timer ta;
      a.result = runner_.assemble(request, bytes);
      a.timings["assemble"] = ta.seconds();
      a.info = parts.front().info.is_object() ? parts.front().info : nlohmann::json::object();
      a.info["tasks"] = parts.size();
      a.info["result_bytes"] = a.result.size();
      if (c.cells > 0) a.info["result_bytes_per_cell"] = double(a.result.size()) / c.cells;
      return a;
    }); });
    log_event(finish == JobStore::TaskFinish::kAssembled ? "job_assembled"
              : finish == JobStore::TaskFinish::kStored  ? "task_done"
                                                         : "task_lost",
              c, "\"seconds\":" + std::to_string(task_seconds));
    if (hooks.on_task_end) hooks.on_task_end(c, finish, task_seconds, out);
  } catch (const JobCancelled&) {
    try {
      if (opt_.lease_seconds > 0) retry_unreachable(opt_.lease_seconds, [&] { return store_.release_task(c); });
    } catch (const std::exception& e) {
      log_event("release_failed", c, "\"error\":" + nlohmann::json(e.what()).dump());
    }
  } catch (const ConnectionLost& e) {
    // Not the task's fault: its claim lapses and another attempt runs it once the store is back.
    log_event("store_unreachable", c, "\"error\":" + nlohmann::json(e.what()).dump());
  } catch (const std::exception& e) {
    try {
      if (retry_unreachable(opt_.lease_seconds, [&] {
            return store_.fail_claimed_task(c, "task " + std::to_string(index) + ": " + e.what(),
                                            dynamic_cast<const StorageFull*>(&e) ? "insufficient_storage" : "");
          })) {
        log_event("task_failed", c, "\"error\":" + nlohmann::json(e.what()).dump());
        if (hooks.on_failure) hooks.on_failure(c, e.what());
      }
    } catch (const std::exception& e2) {
      log_event("fail_record_failed", c, "\"error\":" + nlohmann::json(e2.what()).dump());
    }
  }
  if (hooks.on_end) hooks.on_end(c);
}

void Worker::log_event(const char* event, const JobRecord& c, const std::string& extra) const {
  std::string line = std::string("{\"event\":\"") + event + "\",\"job\":\"" + c.id + "\"";
  if (c.task) line += ",\"task\":" + std::to_string(c.task->index) + ",\"tasks\":" + std::to_string(c.task->count);
  line += ",\"worker\":" + nlohmann::json(opt_.id).dump();
  if (!extra.empty()) line += "," + extra;
  line += "}";
  std::clog << line << std::endl;
}

void Worker::execute(const JobRecord& job, const WorkerHooks& hooks, const std::function<bool()>& lease_held) {
  if (hooks.on_start) hooks.on_start(job);
  try {
    auto request = wire::ContainerFile::open(store_.request_path(job.id), "stored request");
    Timer t;
    // Latency requests reuse the keys' slot evaluator while the same key set keeps coming.
    RunOutput out = runner_.run_with_keys(
        job.owner + "/" + job.key_id, [&] { return store_.read_key(job.owner, job.key_id); }, request,
        [&](double f) {
          if (!lease_held()) throw JobCancelled{};
          if (hooks.on_progress) hooks.on_progress(job, f);
        });
    nlohmann::json stages = job.timings.is_object() ? job.timings : nlohmann::json::object();  // "validate"
    for (auto& [name, s] : out.stages) stages[name] = s;
    stages["total"] = t.seconds();
    // false: deleted meanwhile, or the lease lapsed and another worker owns it: result dropped.
    const double seconds = t.seconds();
    const bool stored = retry_unreachable(
        opt_.lease_seconds, [&] { return store_.finish_job(job.id, out.result, stages, out.info, job.worker); });
    log_event(stored ? "job_done" : "job_lost", job, "\"seconds\":" + std::to_string(seconds));
    if (hooks.on_task_end)
      hooks.on_task_end(job, stored ? JobStore::TaskFinish::kAssembled : JobStore::TaskFinish::kLost, seconds, out);
  } catch (const JobCancelled&) {
    // Leased (shared store) and stopping: handed back to the queue at once. Lease lost or deleted:
    // nothing of ours is left to release. Unleased (one process): left running, re-queued at the
    // next start.
    try {
      if (opt_.lease_seconds > 0)
        retry_unreachable(opt_.lease_seconds, [&] { return store_.release_claim(job.id, job.worker); });
    } catch (const std::exception& e) {
      std::clog << "leukocrypt: cannot release job " << job.id << " (its lease will lapse): " << e.what() << std::endl;
    }
  } catch (const ConnectionLost& e) {
    // Not the job's fault: its claim lapses and another attempt runs it once the store is back.
    log_event("store_unreachable", job, "\"error\":" + nlohmann::json(e.what()).dump());
  } catch (const std::exception& e) {
    try {
      retry_unreachable(opt_.lease_seconds, [&] {
        return store_.fail_claimed_job(job.id, job.worker, e.what(),
                                       dynamic_cast<const StorageFull*>(&e) ? "insufficient_storage" : "");
      });
      log_event("job_failed", job, "\"error\":" + nlohmann::json(e.what()).dump());
      if (hooks.on_failure) hooks.on_failure(job, e.what());
    } catch (const std::exception& e2) {
      std::clog << "leukocrypt: cannot record failure of job " << job.id << ": " << e2.what() << std::endl;
    }
  }
  if (hooks.on_end) hooks.on_end(job);
}

}  // namespace leukocrypt::service
