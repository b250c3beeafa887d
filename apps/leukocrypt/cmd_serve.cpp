// `leukocrypt serve`: the provider's HTTP screening service (docs/API.md). Holds no secret key.
#include <iostream>

#include "command.h"
#include "common/error.h"

#ifdef LEUKOCRYPT_SERVICE_HE
#include "common/paths.h"
#include "service/he_job_runner.h"
#include "service/server.h"
#endif

namespace leukocrypt::cli {
namespace {

struct ServeArgs {
  std::string model, params, db = "leukocrypt-jobs.db", tokens, host = "127.0.0.1", port_file;
  int port = 8080;
  std::size_t workers = 1, http_threads = 8, max_queued = 64, max_queued_per_client = 16;
  double max_request_mb = 4096;
  bool no_auth = false;
};

#ifdef LEUKOCRYPT_SERVICE_HE
void run_serve(const ServeArgs& a) {
  service::ServerOptions o;
  o.host = a.host;
  o.port = a.port;
  o.workers = a.workers;
  o.http_threads = a.http_threads;
  o.max_queued_jobs = a.max_queued;
  o.max_queued_per_client = a.max_queued_per_client;
  require(a.max_request_mb > 0, "--max-request-mb must be positive");
  o.max_request_bytes = static_cast<std::size_t>(a.max_request_mb * 1024 * 1024);
  if (a.no_auth) {
    o.require_auth = false;
  } else {
    require(!a.tokens.empty(), "--tokens FILE is required (or --insecure-no-auth for a local test)");
    o.tokens = service::TokenTable::load(a.tokens);
  }
  auto runner = service::make_he_runner({a.model, a.params, {}});
  service::JobStore store(a.db);

  // SIGINT/SIGTERM stop the server cleanly from a dedicated thread; a client that hangs up while
  // we answer must not kill the server.
  block_stop_signals();

  service::Server server(o, store, *runner);
  int port = server.bind();
  auto card = runner->model_card();
  std::cout << "leukocrypt serve: listening on http://" << a.host << ":" << port << " (model "
            << card.value("model_id", "?") << ", " << a.workers << " worker(s), db " << a.db;
  if (server.recovered_jobs() > 0) std::cout << ", " << server.recovered_jobs() << " unfinished job(s) re-queued";
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
  cmd->add_option("--db", a->db, "SQLite job database (payloads beside it in <db>.blobs/)")->capture_default_str();
  cmd->add_option("--tokens", a->tokens, "API tokens file: '<client> <token>' per line");
  cmd->add_flag("--insecure-no-auth", a->no_auth, "No tokens: every caller is one client (local tests only)");
  cmd->add_option("--host", a->host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", a->port, "Port (0 = any free port)")->capture_default_str();
  cmd->add_option("--port-file", a->port_file, "Write the bound port to this file once listening");
  cmd->add_option("--workers", a->workers, "Jobs run concurrently")->capture_default_str();
  cmd->add_option("--http-threads", a->http_threads, "Connections served concurrently")->capture_default_str();
  cmd->add_option("--max-request-mb", a->max_request_mb, "Largest accepted upload (413 above)")->capture_default_str();
  cmd->add_option("--max-queued", a->max_queued, "Unfinished jobs, all clients (503 above)")->capture_default_str();
  cmd->add_option("--max-queued-per-client", a->max_queued_per_client, "Unfinished jobs per client (429 above)")
      ->capture_default_str();
  cmd->callback([a] {
#ifdef LEUKOCRYPT_SERVICE_HE
    run_serve(*a);
#else
    throw Error("this build has no encrypted-inference runner (lc_nn/lc_he missing)");
#endif
  });
}

// `leukocrypt card`: the model card GET /v1/model would serve, without a server (offline keygen:
// `leukocrypt card ... > model.json && leukocrypt keygen --params model.json`).
void register_card(CLI::App& root) {
  auto model = std::make_shared<std::string>();
  auto params = std::make_shared<std::string>();
  auto* cmd = root.add_subcommand("card", "Provider: print the model card (what GET /v1/model serves)");
  cmd->add_option("--model", *model, "Model file (native format)")->required();
  cmd->add_option("--params", *params, "params.json")->required();
  cmd->callback([model, params] {
#ifdef LEUKOCRYPT_SERVICE_HE
    print_json(service::make_he_runner({*model, *params, {}})->model_card());
#else
    throw Error("this build has no encrypted-inference runner (lc_nn/lc_he missing)");
#endif
  });
}

const CommandRegistrar kRegistrar(800, register_serve);
const CommandRegistrar kCardRegistrar(801, register_card);

}  // namespace
}  // namespace leukocrypt::cli
