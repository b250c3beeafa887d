// Soak test on 127.0.0.1 (issue 11, item 10): C concurrent clients run J jobs in total through a
// real `leukocrypt serve` child process, while the server is killed with SIGKILL at random moments
// K times and restarted on the same database. Every accepted job (202) must finish, and every
// decrypted result must equal the raw integer model exactly on its real C-NMC cells: 0 lost,
// 0 wrong. Tiny model (the nn tests' network on 3x16x16 cells) and INSECURE N = 256 parameters,
// named so, so that jobs take a fraction of a second.
//
// CTest runs a small version (4 clients, 24 jobs, 2 kills). The figure in docs/RELIABILITY.md:
//   LEUKOCRYPT_SOAK_CLIENTS=16 LEUKOCRYPT_SOAK_JOBS=500 LEUKOCRYPT_SOAK_KILLS=10 build/tests/client/soak_tests
// Kills are spread over the run by progress, not by the clock (a fast, quiet machine finishes the
// small run in about a second): kill k of K comes once k*J/(K+1) jobs have started, after a further
// random pause of up to LEUKOCRYPT_SOAK_MAX_PAUSE_MS (default 150), so it lands at a different moment
// of a job (upload, validation, evaluation, download) each time.
// Everything is bounded: each job has a deadline, the kill loop stops after K kills or when the
// jobs are done, the whole run stops after LEUKOCRYPT_SOAK_DEADLINE_S (default 900) seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "client/key_files.h"
#include "client/keyholder.h"
#include "client/service_client.h"
#include "common/paths.h"
#include "nn/backend.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "process.h"
#include "service/wire/he_layout.h"
#include "tiny_setup.h"

namespace leukocrypt::client {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Model, INSECURE test parameters, tokens, real cells and their raw-model logits.
struct SoakWorld {
  fs::path dir, model, params, tokens;
  std::vector<fs::path> cells;
  std::vector<std::string> raw_exact;  // cells x 2
  int clients;

  explicit SoakWorld(int n_clients) : clients(n_clients) {
    dir = fs::temp_directory_path() / ("lc-soak-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    testing::TinySetup tiny(dir);
    model = tiny.model;
    params = tiny.params;
    const auto& plan = tiny.plan;
    tokens = dir / "tokens.txt";
    std::string t;
    for (int i = 0; i < clients; ++i) t += "c" + std::to_string(i) + " " + token(i) + "\n";
    write_file_atomic(tokens, t, 0600);  // serve refuses a tokens file others can read
    fs::path root = fs::path(LEUKOCRYPT_DATA_DIR) / "cnmc-fold1-225";
    for (const char* cls : {"all", "hem"}) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(root / cls)) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      cells.insert(cells.end(), files.begin(), files.begin() + 4);
    }
    auto inputs = load_images(cells, 16);
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
    auto raw = nn::make_raw_backend()->run(plan, ptrs);
    for (auto v : raw.exact) raw_exact.push_back(nn::to_string128(v));
  }
  ~SoakWorld() {
    std::error_code ec;
    if (!std::getenv("LEUKOCRYPT_KEEP_TEST_DIR")) fs::remove_all(dir, ec);
  }
  static std::string token(int i) { return "soak-client-" + std::to_string(i) + "-token-abcdefgh"; }
};

// The server child process, restarted on the same database after every kill.
class Restarter {
 public:
  explicit Restarter(const SoakWorld& w) : w_(w) {
    args_ = {LEUKOCRYPT_CLI, "serve", "--model", w.model.string(), "--params", w.params.string(),
             "--insecure-for-tests", "--db", (w.dir / "soak.db").string(), "--tokens", w.tokens.string(), "--workers", "2",
             "--max-queued-per-client", "4"};
    start();
  }
  std::string url() {
    std::lock_guard lock(mu_);
    return url_;
  }
  bool kill_and_restart() {
    std::lock_guard lock(mu_);
    server_->kill(SIGKILL);
    server_.reset();
    return start_locked();
  }
  std::string log() {
    std::lock_guard lock(mu_);
    return server_ ? server_->log() : "";
  }

 private:
  bool start() {
    std::lock_guard lock(mu_);
    return start_locked();
  }
  bool start_locked() {
    server_ = std::make_unique<testing::ServerProcess>(args_, w_.dir);
    url_ = server_->url();
    return server_->port() > 0;
  }
  const SoakWorld& w_;
  std::vector<std::string> args_;
  std::mutex mu_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::string url_;
};

struct Tally {
  std::atomic<int> accepted{0}, done_exact{0}, lost{0}, wrong{0}, submit_retries{0}, poll_errors{0}, retried_jobs{0};
  std::mutex mu;
  std::vector<std::string> problems;
  void problem(const std::string& p) {
    std::lock_guard lock(mu);
    if (problems.size() < 20) problems.push_back(p);
  }
};

// One client: keys registered once; its requests cycle over rotations of the real cells.
struct SoakClient {
  int index;
  std::unique_ptr<KeyHolder> kh;
  std::vector<std::string> requests;  // request r holds cells offset r, r+1 (2 cells)
  std::string eval_keys;

  // Calls f with a client for the current server until it succeeds or the deadline passes
  // (connection errors during a restart; 429/503 back-pressure). Other HTTP errors are returned.
  template <class F>
  static bool retry(Restarter& server, const std::string& token, Clock::time_point deadline, std::atomic<int>& retries,
                    F&& f) {
    while (Clock::now() < deadline) {
      try {
        ServiceClient sc(server.url(), token, ClientOptions{std::chrono::seconds(5), std::chrono::seconds(30)});
        f(sc);
        return true;
      } catch (const ServiceError& e) {
        if (e.status() != 429 && e.status() != 503) throw;
      } catch (const std::exception&) {
      }
      ++retries;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
};

void run_client_job(const SoakWorld& w, SoakClient& c, std::size_t r, Restarter& server, Tally& tally,
                    Clock::time_point run_deadline) {
  const auto token = SoakWorld::token(c.index);
  const auto deadline = std::min(run_deadline, Clock::now() + std::chrono::seconds(300));
  std::string id;
  try {
    if (!SoakClient::retry(server, token, deadline, tally.submit_retries,
                           [&](ServiceClient& sc) { id = sc.submit(c.requests[r]); })) {
      tally.problem("client " + std::to_string(c.index) + ": could not submit before the deadline");
      return;
    }
  } catch (const std::exception& e) {
    tally.problem(std::string("submit refused: ") + e.what());
    ++tally.lost;
    return;
  }
  ++tally.accepted;
  nlohmann::json st;
  std::string result;
  bool finished = false;
  while (!finished && Clock::now() < deadline) {
    try {
      SoakClient::retry(server, token, deadline, tally.poll_errors, [&](ServiceClient& sc) {
        st = sc.status(id);
        if (st["status"] == "done") result = sc.result(id);
      });
    } catch (const ServiceError& e) {  // 404 after a restart: the job was lost
      tally.problem("job " + id + ": " + e.what());
      ++tally.lost;
      return;
    }
    finished = st.value("status", "") == "done" || st.value("status", "") == "failed";
    if (!finished) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (st.value("status", "") != "done" || result.empty()) {
    tally.problem("job " + id + " ended as " + st.dump());
    ++tally.lost;
    return;
  }
  tally.retried_jobs += st.value("attempts", 1) > 1;
  auto got = c.kh->decrypt(result);
  bool exact = got.size() == 2;
  for (std::size_t i = 0; exact && i < got.size(); ++i) {
    const std::size_t cell = (r + i) % w.cells.size();
    exact = got[i].name == w.cells[cell].filename().string() && got[i].exact.size() == 2 &&
            got[i].exact[0] == w.raw_exact[2 * cell] && got[i].exact[1] == w.raw_exact[2 * cell + 1];
  }
  if (exact) {
    ++tally.done_exact;
  } else {
    ++tally.wrong;
    tally.problem("job " + id + ": decrypted logits differ from the raw model");
  }
}

TEST(Soak, KilledServerLosesNoJobAndEveryResultIsExact) {
  std::signal(SIGPIPE, SIG_IGN);
  const int clients = env_int("LEUKOCRYPT_SOAK_CLIENTS", 4);
  const int jobs = env_int("LEUKOCRYPT_SOAK_JOBS", 24);
  const int kills = env_int("LEUKOCRYPT_SOAK_KILLS", 2);
  const auto run_deadline = Clock::now() + std::chrono::seconds(env_int("LEUKOCRYPT_SOAK_DEADLINE_S", 900));
  SoakWorld w(clients);
  Restarter server(w);
  ASSERT_FALSE(server.url().empty());

  // Keys and requests, made before the clock starts.
  auto card = ServiceClient(server.url(), SoakWorld::token(0)).model_card();
  std::vector<SoakClient> cs(static_cast<std::size_t>(clients));
  for (int i = 0; i < clients; ++i) {
    auto& c = cs[static_cast<std::size_t>(i)];
    c.index = i;
    KeyPaths paths(w.dir / ("keys-" + std::to_string(i)));
    keygen(wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
    c.kh = std::make_unique<KeyHolder>(paths, /*allow_insecure_for_tests=*/true);
    ServiceClient(server.url(), SoakWorld::token(i)).register_keys(read_key_file(paths.eval, wire::Kind::kEvalKeys));
    for (std::size_t r = 0; r < w.cells.size(); ++r) {
      std::vector<fs::path> two{w.cells[r], w.cells[(r + 1) % w.cells.size()]};
      c.requests.push_back(c.kh->encrypt(load_images(two, 16), card["model_id"]));
    }
  }

  Tally tally;
  std::atomic<int> next_job{0}, kills_done{0}, restart_failures{0};
  std::atomic<bool> all_done{false};
  const auto t0 = Clock::now();
  std::thread killer([&] {
    std::mt19937 rng(20261205);
    std::uniform_int_distribution<int> pause_ms(0, env_int("LEUKOCRYPT_SOAK_MAX_PAUSE_MS", 150));
    auto wait_until = [&](auto ready) {
      while (!ready() && !all_done && Clock::now() < run_deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    };
    for (int k = 1; k <= kills && !all_done && Clock::now() < run_deadline; ++k) {
      const long long started = static_cast<long long>(k) * jobs / (kills + 1);
      wait_until([&] { return next_job.load() > started; });
      const auto until = Clock::now() + std::chrono::milliseconds(pause_ms(rng));
      wait_until([&] { return Clock::now() >= until; });
      if (all_done) break;
      if (!server.kill_and_restart()) ++restart_failures;
      ++kills_done;
    }
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      for (int n; (n = next_job++) < jobs && Clock::now() < run_deadline;)
        run_client_job(w, cs[static_cast<std::size_t>(i)], static_cast<std::size_t>(n) % w.cells.size(), server, tally,
                       run_deadline);
    });
  for (auto& t : threads) t.join();
  all_done = true;
  killer.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  nlohmann::json summary{{"clients", clients},       {"jobs", jobs},
                         {"accepted", tally.accepted.load()},
                         {"done_exact", tally.done_exact.load()},
                         {"lost", tally.lost.load()},
                         {"wrong", tally.wrong.load()},
                         {"sigkills", kills_done.load()},
                         {"restart_failures", restart_failures.load()},
                         {"jobs_run_more_than_once", tally.retried_jobs.load()},
                         {"submit_retries", tally.submit_retries.load()},
                         {"poll_retries", tally.poll_errors.load()},
                         {"seconds", seconds}};
  std::cout << "soak: " << summary.dump() << std::endl;
  if (const char* out = std::getenv("LEUKOCRYPT_SOAK_REPORT")) write_file_atomic(out, summary.dump(2) + "\n");
  for (const auto& p : tally.problems) ADD_FAILURE() << p;
  EXPECT_EQ(tally.accepted, jobs);
  EXPECT_EQ(tally.done_exact, jobs);
  EXPECT_EQ(tally.lost, 0);
  EXPECT_EQ(tally.wrong, 0);
  EXPECT_EQ(kills_done, kills) << "the jobs ended before every kill: raise LEUKOCRYPT_SOAK_JOBS";
  EXPECT_EQ(restart_failures, 0) << server.log();
}

}  // namespace
}  // namespace leukocrypt::client
