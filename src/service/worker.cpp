// Lease-holding evaluation worker (see worker.h).
#include "service/worker.h"

#include <unistd.h>

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

std::string default_worker_id() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + wire::random_id().substr(0, 6);
}

Worker::Worker(JobStore& store, const JobRunner& runner, WorkerOptions options)
    : store_(store), runner_(runner), opt_(std::move(options)) {
  if (opt_.id.empty()) opt_.id = default_worker_id();
}

std::optional<JobRecord> Worker::claim() {
  for (;;) {
    if (opt_.lease_seconds > 0) store_.requeue_expired();
    auto job = store_.claim_next(opt_.id, opt_.lease_seconds);
    if (!job || job->attempts <= opt_.max_attempts) return job;
    const std::string why = job->error.empty() ? "the process running it stopped each time" : job->error;
    store_.fail_claimed_job(job->id, opt_.id,
                            "gave up after " + std::to_string(opt_.max_attempts) + " attempts (last: " + why + ")",
                            "too_many_attempts");
    std::clog << "{\"event\":\"job_poisoned\",\"job\":\"" << job->id << "\",\"worker\":\"" << opt_.id << "\"}"
              << std::endl;
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
          if (!store_.renew_lease(job.id, opt_.id, opt_.lease_seconds)) held = false;
        } catch (const std::exception& e) {
          // The database is unreachable: keep running; the lease may still hold when it is back.
          std::clog << "{\"event\":\"heartbeat_failed\",\"job\":\"" << job.id << "\",\"error\":\"" << e.what()
                    << "\"}" << std::endl;
        }
      }
    });
  }
  execute(job, hooks, [&] { return held.load(); });
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  if (heartbeat.joinable()) heartbeat.join();
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
    store_.finish_job(job.id, out.result, stages, out.info, job.worker);
  } catch (const JobCancelled&) {
    // Leased (shared store) and stopping: handed back to the queue at once. Lease lost or deleted:
    // nothing of ours is left to release. Unleased (one process): left running, re-queued at the
    // next start.
    try {
      if (opt_.lease_seconds > 0) store_.release_claim(job.id, job.worker);
    } catch (const std::exception& e) {
      std::clog << "leukocrypt: cannot release job " << job.id << " (its lease will lapse): " << e.what() << std::endl;
    }
  } catch (const std::exception& e) {
    try {
      store_.fail_claimed_job(job.id, job.worker, e.what(),
                              dynamic_cast<const StorageFull*>(&e) ? "insufficient_storage" : "");
    } catch (const std::exception& e2) {
      std::clog << "leukocrypt: cannot record failure of job " << job.id << ": " << e2.what() << std::endl;
    }
  }
  if (hooks.on_end) hooks.on_end(job);
}

}  // namespace leukocrypt::service
