// `leukocrypt clinic`: the key holder's local web server. Serves one page (embedded assets) and
// the JSON API behind it (docs/CLINIC.md): providers and their keys, cells dropped on the page,
// screenings run in the background and kept in SQLite. Listens on 127.0.0.1 unless told
// otherwise; every request passes the AccessGuard. The secret keys stay in this process and its
// data directory: no endpoint returns key material, and only eval.key is sent to a provider.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "clinic/access_guard.h"
#include "clinic/cell_pool.h"
#include "clinic/clinic_store.h"
#include "clinic/provider_keys.h"
#include "clinic/screening_runner.h"

namespace httplib {
class Server;
}

namespace leukocrypt::clinic {

struct ClinicOptions {
  std::string host = "127.0.0.1";
  int port = 8090;              // 0 = any free port
  bool allow_remote = false;    // required for a non-loopback host
  std::filesystem::path data_dir;  // clinic.db, keys/, work/ (created 0700)
  int http_threads = 8;
  // Providers whose parameters are below 128-bit security (the tests' tiny N = 256 set) are
  // refused unless this is set (`leukocrypt clinic --insecure-for-tests`).
  bool allow_insecure_for_tests = false;
};

class ClinicServer {
 public:
  // Opens the data directory; throws InvalidArgument for a non-loopback host without
  // allow_remote.
  explicit ClinicServer(ClinicOptions options);
  ~ClinicServer();
  ClinicServer(const ClinicServer&) = delete;
  ClinicServer& operator=(const ClinicServer&) = delete;

  int bind();        // returns the port
  void serve();      // blocks until stop()
  int start();       // bind + serve on a background thread
  void stop();

  // The address to open, with the access token: http://127.0.0.1:PORT/?token=...
  std::string url() const;
  const AccessGuard& guard() const { return guard_; }

 private:
  void install_routes();
  void install_provider_routes();
  void install_cell_routes();
  void install_screening_routes();
  nlohmann::json screening_json(const std::string& id);

  ClinicOptions opt_;
  AccessGuard guard_;
  std::unique_ptr<ClinicStore> store_;
  std::unique_ptr<ProviderKeys> providers_;
  std::unique_ptr<ScreeningRunner> runner_;
  CellPool pool_;
  std::unique_ptr<httplib::Server> http_;
  std::thread serve_thread_;
  int port_ = 0;
};

// $XDG_DATA_HOME/leukocrypt-clinic, else ~/.local/share/leukocrypt-clinic.
std::filesystem::path default_data_dir();

}  // namespace leukocrypt::clinic
