// `leukocrypt worker`: a stateless evaluation worker (docs/DEPLOY.md). Claims jobs from the shared
// job store (PostgreSQL) under a lease, reads their requests and keys from the shared payload
// directory, evaluates and stores the result there. Any number run on any machine that reaches
// both; a killed worker's job is run by another once its lease lapses. Built only into
// `leukocrypt-serve` (no secret-key code); `leukocrypt worker` execs it. One JSON line per event.
#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "command.h"
#include "common/error.h"
#include "common/timer.h"

#ifdef LEUKOCRYPT_SERVICE_HE
#include "service/he_job_runner.h"
#include "service/job_store.h"
#include "service/worker.h"
#endif

namespace leukocrypt::cli {
namespace {

struct WorkerArgs {
  std::string db, blobs, model, params, id;
  double lease_s = 30, poll_s = 0.5;
  int max_attempts = 3;
  std::size_t max_cells = 16384, max_batches = 8;  // as the API nodes' --max-cells-per-job / --max-batches-per-job
  bool insecure = false, no_circuit_privacy = false;
};

#ifdef LEUKOCRYPT_SERVICE_HE
void log_event(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

void work(service::JobStore& store, service::Worker& worker, std::atomic<bool>& stopping, double poll_s) {
  service::WorkerHooks hooks;
  hooks.on_progress = [&](const service::JobRecord&, double) {
    if (stopping) throw service::JobCancelled{};
  };
  while (!stopping) {
    std::optional<service::JobRecord> job;
    try {
      job = worker.claim();
    } catch (const std::exception& e) {  // database restarting: retry after the poll interval
      log_event({{"event", "store_error"}, {"worker", worker.id()}, {"error", e.what()}});
    }
    if (!job) {
      for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::duration<double>(poll_s / 10));
      continue;
    }
    nlohmann::json started{{"event", job->task ? "task_started" : "job_started"}, {"worker", worker.id()},
                           {"job", job->id}, {"attempt", job->task ? job->task->attempts : job->attempts},
                           {"cells", job->cells}};
    if (job->task) started["task"] = job->task->index, started["tasks"] = job->task->count;
    log_event(started);
    Timer run_time;
    worker.run(*job, hooks);
    const double own = run_time.seconds();
    // The store may be down right now (a database restart): this line says "unknown" then; an
    // exception here used to end the process (std::terminate under serve_until_signal).
    std::optional<service::JobRecord> after;
    std::string status = "deleted";
    try {
      after = store.get_job(job->id);
      if (after) status = service::to_string(after->state);
    } catch (const std::exception& e) {
      status = "unknown";
      log_event({{"event", "store_error"}, {"worker", worker.id()}, {"error", e.what()}});
    }
    const bool finished = after && after->finished > 0;
    // "seconds": this claim's own run (a task's, or a whole job's); "job_seconds": the job's claim
    // to done, once the job has finished (the assembling task's line).
    nlohmann::json ended{{"event", job->task ? "task_ended" : "job_ended"}, {"worker", worker.id()}, {"job", job->id},
                         {"status", status}, {"seconds", own}};
    if (finished) ended["job_seconds"] = after->finished - after->started;
    if (job->task) ended["task"] = job->task->index;
    log_event(ended);
  }
}

void run_worker(const WorkerArgs& a) {
  require(service::is_postgres_url(a.db), "--db must be a PostgreSQL URL (postgresql://...): workers share the job "
                                          "store with the API nodes; a SQLite store runs its jobs inside `serve`");
  require(!a.blobs.empty(), "--blobs DIR is required: the payload directory every node shares");
  require(a.lease_s >= 1 && a.poll_s > 0 && a.max_attempts >= 1,
          "--lease-s must be >= 1, --poll-s > 0, --max-attempts >= 1");
  auto runner = service::make_he_runner({a.model, a.params, {}, a.insecure, !a.no_circuit_privacy,
                                         {a.max_cells, a.max_batches}});
  warn_insecure_card(runner->model_card());
  service::JobStore store(service::StoreConfig(a.db, a.blobs), service::JobStore::Access::kShared);
  service::Worker worker(store, *runner, {a.id, a.lease_s, a.max_attempts});
  block_stop_signals();
  log_event({{"event", "worker_started"}, {"worker", worker.id()}, {"db", service::redact_db(a.db)},
             {"blobs", a.blobs}, {"lease_s", a.lease_s}});
  std::atomic<bool> stopping{false};
  serve_until_signal("leukocrypt worker", [&] { work(store, worker, stopping, a.poll_s); }, [&] { stopping = true; });
}
#endif

void register_worker(CLI::App& root) {
  auto a = std::make_shared<WorkerArgs>();
  auto* cmd = root.add_subcommand("worker", "Run a stateless evaluation worker on a shared PostgreSQL job store");
  cmd->add_option("--db", a->db, "Job store: PostgreSQL URL (postgresql://user@host/db), shared with the API nodes")
      ->required();
  cmd->add_option("--blobs", a->blobs, "Payload directory shared with the API nodes (keys, requests, results)")
      ->required();
  cmd->add_option("--model", a->model, "Model file (native format), the one the API nodes serve")->required();
  cmd->add_option("--params", a->params, "params.json (encryption parameters the model runs with: the API nodes' own; "
                  "BFV, or CKKS from `params --scheme ckks`, which without a flood needs --no-circuit-privacy)")->required();
  cmd->add_option("--id", a->id, "Worker id in the store and logs (default host:pid:random)");
  cmd->add_option("--lease-s", a->lease_s, "A claim lapses this long after the last heartbeat (every third of it)")
      ->capture_default_str();
  cmd->add_option("--poll-s", a->poll_s, "Idle wait between claims when the queue is empty")->capture_default_str();
  cmd->add_option("--max-attempts", a->max_attempts, "A job claimed more often than this is failed (poison)")
      ->capture_default_str();
  cmd->add_option("--max-cells-per-job", a->max_cells,
                  "The API nodes' --max-cells-per-job: the circuit-privacy reserve covers jobs this large")
      ->capture_default_str();
  cmd->add_option("--max-batches-per-job", a->max_batches, "The API nodes' --max-batches-per-job")
      ->capture_default_str();
  add_insecure_flag(cmd, a->insecure);
  add_no_circuit_privacy_flag(cmd, a->no_circuit_privacy);
  cmd->callback([a] {
#ifdef LEUKOCRYPT_SERVICE_HE
    run_worker(*a);
#else
    throw Error("this build has no encrypted-inference runner (lc_nn/lc_he missing)");
#endif
  });
}

const CommandRegistrar kRegistrar(810, register_worker);

}  // namespace
}  // namespace leukocrypt::cli
