// The provider's HTTP screening service (cpp-httplib): key registration, asynchronous jobs on a
// durable JobStore, workers that run a JobRunner, per-client isolation by API token, limits, and
// JSON errors. Endpoints (see docs/API.md):
//   GET  /healthz                 liveness + queue depth (no token)
//   GET  /v1/model                model card
//   POST /v1/keys                 body: eval-keys container        -> 201/200 {key_id, ...}
//   GET  /v1/keys/{id}            registered key metadata
//   POST /v1/jobs                 body: request container          -> 202 {job_id, ...}
//   GET  /v1/jobs/{id}            status, timings, progress
//   GET  /v1/jobs/{id}/result     result container (409 until done)
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "service/auth.h"
#include "service/job_runner.h"
#include "service/job_store.h"

namespace httplib {
class Server;
}

namespace leukocrypt::service {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                                           // 0 = any free port (see Server::port())
  std::size_t max_request_bytes = std::size_t(4) << 30;      // 413 above this
  std::size_t max_queued_jobs = 64;                          // pending+running, all clients: 503 above
  std::size_t max_queued_per_client = 16;                    // pending+running, one client: 429 above
  std::size_t workers = 1;                                   // jobs run concurrently
  std::size_t http_threads = 8;                              // connections served concurrently
  int read_timeout_s = 60;                                   // per socket read while receiving a body
  bool require_auth = true;                                  // false: every caller is client "anonymous"
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

 private:
  void install_routes();
  void worker_loop();
  // A latency-packed request needs the key's Galois keys: refuses (400 missing_galois_keys) when
  // the stored key container's header records none. Reads the header only, not the keys.
  void require_galois_keys(const std::string& owner, const std::string& key_id);

  ServerOptions opt_;
  JobStore& store_;
  const JobRunner& runner_;
  std::unique_ptr<httplib::Server> http_;
  std::thread serve_thread_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::map<std::string, double> progress_;  // running job id -> fraction, under mu_
  std::mutex submit_mu_;                    // serialises the queue-limit check with the insert
  int port_ = 0;
  std::size_t recovered_ = 0;
  bool started_ = false;
};

}  // namespace leukocrypt::service
