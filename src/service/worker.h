// An evaluation worker: claims jobs from a JobStore under a lease, runs them with a JobRunner one
// at a time, renews the lease from a heartbeat thread while a job runs, and stores the result or
// the failure — only while it still holds the claim, so a worker that lost its lease (paused,
// cut off from the database) never finishes a job twice. Used by `leukocrypt worker` processes
// and by the server's own worker threads.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "service/job_runner.h"
#include "service/job_store.h"

namespace leukocrypt::service {

struct WorkerOptions {
  std::string id;              // unique among live workers (default: host:pid:random)
  double lease_seconds = 30;   // 0: no lease (single-process SQLite: recovery at startup instead)
  int max_attempts = 3;        // a job claimed more often than this is failed (poison)
};

// Thrown by a progress hook to stop the running job (server stopping, job deleted, lease lost).
struct JobCancelled {};

struct WorkerHooks {
  std::function<void(const JobRecord&)> on_start;                 // before the runner starts
  std::function<void(const JobRecord&, double)> on_progress;      // may throw JobCancelled
  std::function<void(const JobRecord&)> on_end;                   // always, after on_start
  // A task ran to its end (stored, assembled its job, or lost its claim meanwhile): metrics.
  std::function<void(const JobRecord&, JobStore::TaskFinish, double seconds, const RunOutput&)> on_task_end;
  std::function<void(const JobRecord&, const std::string& error)> on_failure;  // a task or job failed
};

class Worker {
 public:
  Worker(JobStore& store, const JobRunner& runner, WorkerOptions options);

  // Hands expired leases back to the queue, claims the next pending job and returns it; a job
  // claimed more than max_attempts times is failed with the reason instead (and skipped).
  // nullopt when nothing is pending.
  std::optional<JobRecord> claim();
  // Runs a claimed job or task to its end: done, failed, or cancelled (leased: handed back to the queue;
  // unleased: left running for the next start). Never throws.
  void run(const JobRecord& job, const WorkerHooks& hooks = {});
  const std::string& id() const { return opt_.id; }

 private:
  void execute(const JobRecord& job, const WorkerHooks& hooks, const std::function<bool()>& lease_held);
  void execute_task(const JobRecord& claim, const WorkerHooks& hooks, const std::function<bool()>& lease_held);
  // One JSON line on stderr: {"event", "job", "task", "tasks", "worker", extra...}.
  void log_event(const char* event, const JobRecord& claim, const std::string& extra = "") const;

  JobStore& store_;
  const JobRunner& runner_;
  WorkerOptions opt_;
};

// host:pid:random — unique enough to tell workers apart in the store and the logs.
std::string default_worker_id();

}  // namespace leukocrypt::service
