// `leukocrypt serve`: the provider's HTTP screening service (docs/API.md). Built only into
// `leukocrypt-serve`, which links no secret-key code; `leukocrypt serve` execs it.
#include <iostream>

#include "command.h"
#include "common/error.h"
#include "service/server.h"

#ifdef LEUKOCRYPT_SERVICE_HE
#include "common/paths.h"
#include "service/he_job_runner.h"
#endif

namespace leukocrypt::cli {
namespace {

struct ServeArgs {
  std::string model, params, db = "leukocrypt-jobs.db", blobs, tokens, host = "127.0.0.1", port_file, tls_cert, tls_key;
  int port = 8080;
  std::size_t workers = 1, http_threads = 8, max_queued = 64, max_queued_per_client = 16;
  double max_request_mb = 4096, max_key_mb = 1024, max_body_kb = 64, retention_days = 7, sweep_minutes = 10;
  bool no_auth = false, insecure = false, no_circuit_privacy = false;
  service::ServerOptions limits;  // per-job caps, per-client quotas, validators (bounded work)
};

#ifdef LEUKOCRYPT_SERVICE_HE
void run_serve(const ServeArgs& a) {
  service::ServerOptions o = a.limits;
  o.host = a.host;
  o.port = a.port;
  o.workers = a.workers;
  o.http_threads = a.http_threads;
  o.max_queued_jobs = a.max_queued;
  o.max_queued_per_client = a.max_queued_per_client;
  require(a.max_request_mb > 0, "--max-request-mb must be positive");
  o.max_request_bytes = static_cast<std::size_t>(a.max_request_mb * 1024 * 1024);
  require(a.max_key_mb > 0 && a.max_body_kb > 0, "--max-key-mb and --max-body-kb must be positive");
  o.max_key_bytes = static_cast<std::size_t>(a.max_key_mb * 1024 * 1024);
  o.max_body_bytes = static_cast<std::size_t>(a.max_body_kb * 1024);
  require(a.retention_days > 0 && a.sweep_minutes > 0, "--retention-days and --sweep-minutes must be positive");
  o.retention_seconds = a.retention_days * 24 * 3600;
  o.sweep_interval_seconds = a.sweep_minutes * 60;
  if (a.no_auth) {
    o.require_auth = false;
  } else {
    require(!a.tokens.empty(), "--tokens FILE is required (or --insecure-no-auth for a local test)");
    require_private_file(a.tokens);  // like ssh: other users must not read the clients' tokens
    o.tokens = service::TokenTable::load(a.tokens);
  }
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  auto runner = service::make_he_runner({a.model, a.params, {}, a.insecure, !a.no_circuit_privacy,
                                         {a.limits.max_cells_per_job, a.limits.max_batches_per_job}});
  warn_insecure_card(runner->model_card());
  // PostgreSQL is shared by design (API nodes and workers, recovery by leases); SQLite is one
  // process's (an flock refuses a second server).
  const service::StoreConfig config(a.db, a.blobs);
  service::JobStore store(config, config.is_postgres() ? service::JobStore::Access::kShared
                                                       : service::JobStore::Access::kExclusive);

  // SIGINT/SIGTERM stop the server cleanly from a dedicated thread; a client that hangs up while
  // we answer must not kill the server.
  block_stop_signals();

  service::Server server(o, store, *runner);
  int port = server.bind();
  auto card = runner->model_card();
  std::cout << "leukocrypt serve: listening on " << (a.tls_cert.empty() ? "http" : "https") << "://" << a.host << ":" << port << " (model "
            << card.value("model_id", "?") << ", " << a.workers << " worker(s), db " << service::redact_db(a.db);
  if (server.recovered_jobs() > 0) std::cout << ", " << server.recovered_jobs() << " unfinished job(s) re-queued";
  if (server.orphans_removed() > 0) std::cout << ", " << server.orphans_removed() << " orphan file(s) removed";
  std::cout << ")" << std::endl;
  // After the line above, so whoever waits for the port file also finds the startup line.
  if (!a.port_file.empty()) write_file_atomic(a.port_file, std::to_string(port) + "\n");

  serve_until_signal("leukocrypt serve", [&] { server.serve(); }, [&] { server.stop(); });
}
#endif

void register_serve(CLI::App& root) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = root.add_subcommand("serve", "Run the provider's HTTP screening service (no secret key)");
  cmd->add_option("--model", a->model, "Model file (native format)")->required();
  cmd->add_option("--params", a->params, "params.json (encryption parameters the model runs with)")->required();
  cmd->add_option("--db", a->db,
                  "Job database: a SQLite file (payloads beside it in <db>.blobs/) or a PostgreSQL URL "
                  "(postgresql://user@host/db; needs --blobs)")
      ->capture_default_str();
  cmd->add_option("--blobs", a->blobs,
                  "Payload directory (keys, requests, results); required with PostgreSQL, shared by every node");
  cmd->add_option("--tokens", a->tokens, "API tokens file: '<client> <token> [<expires>]' per line (expires: UTC YYYY-MM-DDTHH:MM:SSZ, then 401 token_expired)");
  cmd->add_flag("--insecure-no-auth", a->no_auth, "No tokens: every caller is one client (local tests only)");
  add_insecure_flag(cmd, a->insecure);
  add_no_circuit_privacy_flag(cmd, a->no_circuit_privacy);
  cmd->add_option("--tls-cert", a->tls_cert, "HTTPS: certificate chain (PEM); needs --tls-key");
  cmd->add_option("--tls-key", a->tls_key, "HTTPS: private key (PEM, mode 0600); needs --tls-cert");
  cmd->add_option("--host", a->host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", a->port, "Port (0 = any free port)")->capture_default_str();
  cmd->add_option("--port-file", a->port_file, "Write the bound port to this file once listening");
  cmd->add_option("--workers", a->workers,
                  "Jobs run concurrently in this process (0: API-only node; `leukocrypt worker` processes run "
                  "the jobs; needs PostgreSQL)")
      ->capture_default_str();
  cmd->add_option("--http-threads", a->http_threads, "Connections served concurrently")->capture_default_str();
  cmd->add_option("--max-request-mb", a->max_request_mb, "Largest accepted upload (413 above)")->capture_default_str();
  cmd->add_option("--max-queued", a->max_queued, "Unfinished jobs, all clients (503 above)")->capture_default_str();
  cmd->add_option("--max-queued-per-client", a->max_queued_per_client, "Unfinished jobs per client (429 above)")
      ->capture_default_str();
  cmd->add_option("--max-key-mb", a->max_key_mb, "Largest accepted key upload (413 above)")->capture_default_str();
  cmd->add_option("--max-body-kb", a->max_body_kb, "Largest body on any other route (413 above)")->capture_default_str();
  cmd->add_option("--max-cells-per-job", a->limits.max_cells_per_job, "Cells in one request (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-batches-per-job", a->limits.max_batches_per_job,
                  "Ciphertext batches in one request (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-queued-cells-per-client", a->limits.max_queued_cells_per_client,
                  "Cells in one client's unfinished jobs (429 above)")
      ->capture_default_str();
  cmd->add_option("--max-keys-per-client", a->limits.max_keys_per_client, "Registered keys per client (429 above)")
      ->capture_default_str();
  cmd->add_option("--retention-days", a->retention_days,
                  "Finished jobs (request and result) are deleted this long after they finish")
      ->capture_default_str();
  cmd->add_option("--sweep-minutes", a->sweep_minutes, "How often the retention sweep runs")->capture_default_str();
  cmd->add_option("--read-timeout-s", a->limits.read_timeout_s,
                  "A connection silent this long while sending is closed (slow clients)")
      ->capture_default_str();
  cmd->add_option("--request-timeout-s", a->limits.request_timeout_s,
                  "Whole request deadline from its first byte (plus its declared body at 1 MiB/s): 408 and closed "
                  "after it (clients trickling bytes under --read-timeout-s); 0 = off")
      ->capture_default_str();
  cmd->add_option("--lease-s", a->limits.lease_seconds,
                  "PostgreSQL: claims of this node's worker threads and full checks of uploads lapse this long "
                  "after their last renewal (another node then takes them over)")
      ->capture_default_str();
  cmd->add_option("--validators", a->limits.validators, "Uploads fully checked concurrently (off the HTTP threads)")
      ->capture_default_str();
  cmd->callback([a] {
#ifdef LEUKOCRYPT_SERVICE_HE
    run_serve(*a);
#else
    throw Error("this build has no encrypted-inference runner (lc_nn/lc_he missing)");
#endif
  });
}

const CommandRegistrar kRegistrar(800, register_serve);

}  // namespace
}  // namespace leukocrypt::cli
