// The provider's HTTP screening service (cpp-httplib): key registration, asynchronous jobs on a
// durable JobStore, workers that run a JobRunner, per-client isolation by API token, limits, and
// JSON errors. Endpoints (see docs/API.md):
//   GET  /healthz                 liveness + queue depth (no token)
//   GET  /v1/model                model card
//   POST /v1/keys                 body: eval-keys container        -> 201/200 {key_id, ...}
//   GET  /v1/keys/{id}            registered key metadata
//   POST /v1/jobs                 body: request container          -> 202 {job_id, status: validating}
//   GET  /v1/jobs/{id}            status, timings, progress
//   GET  /v1/jobs/{id}/result     result container (409 until done)
//   DELETE /v1/jobs/{id}, DELETE /v1/keys/{id}   the owner deletes a job (request and result) or a key
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "service/auth.h"
#include "service/request_deadline.h"
#include "service/job_runner.h"
#include "service/job_store.h"

namespace httplib {
class Server;
}

namespace leukocrypt::service {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                                           // 0 = any free port (see Server::port())
  std::size_t max_request_bytes = std::size_t(4) << 30;      // POST /v1/jobs: 413 above
  std::size_t max_key_bytes = std::size_t(1) << 30;          // POST /v1/keys: 413 above
  std::size_t max_body_bytes = std::size_t(64) << 10;        // every other route: 413 above
  std::size_t max_cells_per_job = 16384;                     // 413 above
  std::size_t max_batches_per_job = 8;                       // 413 above (batches of the card's slots_per_batch)
  std::size_t max_queued_jobs = 64;                          // unfinished, all clients: 503 above
  std::size_t max_queued_per_client = 16;                    // unfinished, one client: 429 above
  std::uint64_t max_queued_cells_per_client = 65536;         // cells of unfinished jobs, one client: 429 above
  std::size_t max_keys_per_client = 16;                      // registered keys, one client: 429 above
  std::size_t workers = 1;                                   // jobs run concurrently (0: API only)
  double lease_seconds = 30;                                 // shared stores: a claim lapses after this
  std::size_t validators = 1;                                // uploads fully checked concurrently
  double retention_seconds = 7 * 24 * 3600.0;                // finished jobs (request + result) deleted after
  double sweep_interval_seconds = 600;                       // how often the retention sweep runs
  std::size_t http_threads = 8;                              // connections served concurrently
  int read_timeout_s = 60;                                   // per socket read while receiving a body
  // Whole request (head and body) from a connection's first byte: 408 and closed after
  // request_timeout_s + declared body / min_body_rate seconds (slowloris trickles); 0 = off.
  int request_timeout_s = 30;
  double min_body_rate = 1 << 20;                            // bytes per second
  bool require_auth = true;                                  // false: every caller is client "anonymous"
  // HTTPS when both are set (PEM files; the key must be private to its owner, mode 0600).
  std::string tls_cert, tls_key;
  TokenTable tokens;
};

class Server {
 public:
  Server(ServerOptions options, JobStore& store, const JobRunner& runner);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket and starts the workers (re-queueing jobs a crashed process left running).
  // Returns the bound port. Throws IoError if the address cannot be bound.
  int bind();
  // Serves until stop() (blocking). bind() first.
  void serve();
  // bind() + serve() on a background thread; returns the port once it accepts connections.
  int start();
  // Stops accepting, lets the running job notice the stop at its next progress report (it stays
  // 'running' in the store and is re-queued at the next start), joins every thread. Idempotent.
  void stop();

  int port() const { return port_; }
  std::size_t recovered_jobs() const { return recovered_; }
  std::size_t orphans_removed() const { return orphans_; }
  // Runs the retention sweep now (also every sweep_interval_seconds). Returns jobs deleted.
  std::size_t sweep();

 private:
  void install_routes();
  void install_key_routes();
  void install_job_routes();
  void worker_loop();
  void validator_loop();
  void sweeper_loop();
  bool validate_job(const std::string& id);  // false: store unreachable, check again later
  // 429/503 when `owner` may not queue a job of `cells` more cells.
  void check_job_quota(const std::string& owner, std::uint64_t cells);
  // Cheap checks of a received request's header against the owner's key (full check: validate_job).
  RequestInfo check_request_header(const wire::ContainerHeader& h, const KeyInfo& key) const;
  std::string client_of(const std::string& authorization) const;
  // A latency-packed request needs the key's Galois keys: refuses (400 missing_galois_keys) when
  // the stored key container's header records none. Reads the header only, not the keys.
  void require_galois_keys(const std::string& owner, const std::string& key_id);

  ServerOptions opt_;
  JobStore& store_;
  const JobRunner& runner_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<RequestDeadline> deadline_;  // from bind() on, when request_timeout_s > 0
  std::thread serve_thread_;
  std::vector<std::thread> workers_;
  std::vector<std::thread> validators_;
  std::thread sweeper_;
  std::set<std::string> deleted_;        // running jobs deleted by their owner, under mu_
  std::deque<std::string> to_validate_;  // job ids, under mu_
  std::condition_variable validate_cv_;
  std::condition_variable sweep_cv_;
  std::size_t slots_per_batch_ = 0;      // from the model card (0: no batch cap)
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t jobs_validated_ = 0;  // guarded by mu_; bumped per validated job, wakes idle workers
  std::atomic<bool> stopping_{false};
  std::map<std::string, double> progress_;  // running job id -> fraction, under mu_
  std::mutex submit_mu_;                    // serialises quota checks with the inserts they guard
  int port_ = 0;
  std::size_t recovered_ = 0;
  std::size_t orphans_ = 0;
  bool started_ = false;
  std::string node_id_;  // this node in the store (validation leases)
  // This process's counters for GET /metrics (the store's figures are cluster-wide).
  std::atomic<std::uint64_t> bytes_in_{0}, bytes_out_{0}, tasks_finished_{0}, tasks_lost_{0}, task_failures_{0};
  std::mutex metrics_mu_;
  double task_seconds_sum_ = 0;                     // under metrics_mu_
  std::vector<std::uint64_t> task_seconds_buckets_;  // cumulative counts per kTaskSecondsBuckets, under metrics_mu_
  std::string metrics_text();
};

}  // namespace leukocrypt::service
