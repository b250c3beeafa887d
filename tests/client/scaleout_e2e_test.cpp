// Scale-out end to end on a real PostgreSQL store (run by tests/service/with_postgres.sh; skipped
// elsewhere): 2 API nodes (`serve --workers 0`) and 3 `worker` processes share the database and a
// payload directory; 6 jobs of real C-NMC cells, split into tasks (one per batch and plaintext
// prime); one worker is SIGKILLed while it holds a running task and one API node is SIGKILLed in
// the middle of an upload. Every result decrypts to the raw integer model's logits exactly,
// nothing is lost (6 jobs done, the cut upload left no job), and no task finished twice and no job
// was assembled twice (the workers' JSON logs). Tiny INSECURE parameters (N = 256) for speed.
// CKKS on workers (INSECURE N = 1024): a CKKS job claimed by a worker ends with the float model's
// labels, and a worker started with the other scheme's --params fails jobs with the reason.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <sstream>
#include <thread>

#include "cell_files.h"
#include "client/key_files.h"
#include "client/keyholder.h"
#include "client/service_client.h"
#include "common/paths.h"
#include "nn/backend.h"
#include "nn/ckks_settings.h"
#include "process.h"
#include "raw_connection.h"
#include "service/wire/he_layout.h"
#include "test_store.h"
#include "tiny_setup.h"

namespace leukocrypt::client {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kCli = LEUKOCRYPT_CLI;
const std::string kInsecure = "--insecure-for-tests";
const std::string kToken = "alice-token-0123456789";

// One SQL query on the test cluster's database, first column of every row.
std::vector<std::string> query(const std::string& db, const std::string& sql) {
  PGconn* c = PQconnectdb(db.c_str());
  std::vector<std::string> out;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

// Polls the test database over one connection kept open (a fresh connection per poll costs
// milliseconds on a loaded 2-core machine, enough to miss a short task), reopened when lost (a
// database restart). Loops that poll end at a deadline, never after a number of polls.
class StorePoll {
 public:
  explicit StorePoll(std::string db) : db_(std::move(db)) {}
  StorePoll(const StorePoll&) = delete;
  StorePoll& operator=(const StorePoll&) = delete;
  ~StorePoll() {
    if (c_) PQfinish(c_);
  }
  // Whether sql returns at least one row (false when the database cannot be reached).
  bool any(const std::string& sql) {
    if (!c_ || PQstatus(c_) != CONNECTION_OK) {
      if (c_) PQfinish(c_);
      c_ = PQconnectdb(db_.c_str());
    }
    PGresult* r = PQexec(c_, sql.c_str());
    const bool hit = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    return hit;
  }

 private:
  std::string db_;
  PGconn* c_ = nullptr;
};

// A background process (worker) with its log; SIGKILL or SIGTERM at the end.
struct Child {
  pid_t pid = -1;
  std::string log;
  Child(const std::vector<std::string>& args, const std::string& log_path) : log(log_path) {
    pid = testing::spawn(args, log_path);
  }
  ~Child() { stop(SIGTERM); }
  void stop(int sig) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    int st = 0;
    for (int i = 0; i < 500 && ::waitpid(pid, &st, WNOHANG) != pid; ++i) std::this_thread::sleep_for(20ms);
    if (::waitpid(pid, &st, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
    }
    pid = -1;
  }
};

// Finishing events in a worker log: "job/task" -> count (task_done and job_assembled both mean a
// task's result was stored), and assembled jobs.
void count_events(const std::string& log, std::map<std::string, int>& finished, std::map<std::string, int>& assembled) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("event")) continue;
    const std::string e = j.value("event", "");
    if (e != "task_done" && e != "job_assembled" && e != "job_done") continue;
    finished[j.value("job", "") + "/" + std::to_string(j.value("task", -1))]++;
    if (e != "task_done") assembled[j.value("job", "")]++;
  }
}

// What every test here starts from: a temporary directory with the tiny network, the token file,
// and fresh databases on the test cluster.
struct ScaleOutSetup {
  testing::TempDir dir;
  leukocrypt::testing::TinySetup tiny{dir.path};
  fs::path tokens = dir.path / "tokens.txt";
  explicit ScaleOutSetup(const std::string& name) : dir(name) { write_file_atomic(tokens, "alice " + kToken + "\n", 0600); }
  // postgresql:/// URL of a new database of the test cluster.
  std::string database(const std::string& name) const {
    const auto db = name + "_" + std::to_string(::getpid());
    leukocrypt::testing::create_test_database(db);
    return "postgresql:///" + db;
  }
};

TEST(ScaleOut, TwoApiNodesThreeWorkersKillsLoseNothingAndRunNothingTwice) {
  if (!leukocrypt::testing::testing_postgres()) GTEST_SKIP() << "needs the throw-away cluster of with_postgres.sh";
  std::signal(SIGPIPE, SIG_IGN);
  ScaleOutSetup setup("scaleout");
  const auto& [dir, tiny, tokens] = setup;
  const std::string db = setup.database("lc_scaleout");
  const auto blobs = dir.path / "blobs";

  // Raw integer model: the reference every decrypted logit must equal.
  const auto cells = testing::real_cells(6);
  const auto images = load_images(cells, 16);
  std::vector<const std::uint8_t*> ptrs;
  for (const auto& c : images) ptrs.push_back(c.pixels.data());
  const auto raw = nn::make_raw_backend()->run(tiny.plan, ptrs);

  auto api_args = [&] {
    return std::vector<std::string>{kCli, "serve", "--model", tiny.model.string(), "--params", tiny.params.string(),
                                    kInsecure, "--db", db, "--blobs", blobs.string(), "--tokens", tokens.string(),
                                    "--workers", "0", "--lease-s", "1"};
  };
  auto a = std::make_unique<testing::ServerProcess>(api_args(), dir.path);
  ASSERT_GT(a->port(), 0) << a->log();
  testing::ServerProcess b(api_args(), dir.path);
  ASSERT_GT(b.port(), 0) << b.log();

  std::vector<std::unique_ptr<Child>> workers;
  auto start_worker = [&](int i) {
    workers.push_back(std::make_unique<Child>(
        std::vector<std::string>{kCli, "worker", "--db", db, "--blobs", blobs.string(), "--model", tiny.model.string(),
                                 "--params", tiny.params.string(), kInsecure, "--id", "w" + std::to_string(i),
                                 "--lease-s", "1", "--poll-s", "0.05"},
        (dir.path / ("worker-" + std::to_string(i) + ".log")).string()));
  };
  start_worker(0);  // alone until it is killed mid-task: the others could otherwise run every task first

  // The key holder: keys made for the card, registered through node A, requests encrypted first.
  ServiceClient sa(a->url(), kToken), sb(b.url(), kToken);
  const auto card = sa.model_card();
  KeyPaths paths(dir.path / "keys");
  keygen(wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
  KeyHolder kh(paths, /*allow_insecure_for_tests=*/true);
  sa.register_keys(read_key_file(paths.eval, wire::Kind::kEvalKeys));
  std::vector<std::string> requests;
  for (std::size_t j = 0; j < 6; ++j) {
    std::vector<CellInput> batch;
    for (std::size_t i = 0; i < 4; ++i) batch.push_back(images[(j + i) % images.size()]);
    requests.push_back(kh.encrypt(batch, card["model_id"]));
  }

  std::vector<std::string> jobs;
  for (std::size_t j = 0; j < 6; ++j) jobs.push_back((j % 2 ? sb : sa).submit(requests[j]));

  // SIGKILL worker w0 mid-task: frozen (SIGSTOP) while the store shows it running a task, and
  // killed only if the task is still running once it is frozen (else thawed, and again). Then the
  // other two workers start.
  bool killed_worker = false;
  {
    StorePoll poll(db);
    const std::string running = "SELECT 1 FROM tasks WHERE worker='w0' AND state='running'";
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!killed_worker && std::chrono::steady_clock::now() < deadline) {
      if (!poll.any(running)) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      ::kill(workers[0]->pid, SIGSTOP);
      if (poll.any(running)) {
        workers[0]->stop(SIGKILL);
        killed_worker = true;
      } else {
        ::kill(workers[0]->pid, SIGCONT);
      }
    }
  }
  ASSERT_TRUE(killed_worker) << "w0 never ran a task:\n" << testing::slurp(workers[0]->log);
  start_worker(1);
  start_worker(2);

  // SIGKILL node A half-way through an upload: no job may come of it.
  {
    testing::RawConnection c(a->port());
    ASSERT_TRUE(c.connected());
    const std::string& body = requests[0];
    ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken +
                       "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body.substr(0, body.size() / 2)));
    std::this_thread::sleep_for(300ms);
    a->kill(SIGKILL);
  }
  a.reset();

  // Every job finishes (through node B), exactly.
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    auto st = sb.wait(jobs[j], std::chrono::seconds(60));
    ASSERT_EQ(st["status"], "done") << st.dump();
    auto got = kh.decrypt(sb.result(jobs[j]));
    ASSERT_EQ(got.size(), 4u);
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::size_t c = (j + i) % images.size();
      EXPECT_EQ(got[i].exact[0], nn::to_string128(raw.exact[2 * c])) << "job " << j << " cell " << i;
      EXPECT_EQ(got[i].exact[1], nn::to_string128(raw.exact[2 * c + 1])) << "job " << j << " cell " << i;
      EXPECT_EQ(got[i].label, raw.predicted(c));
    }
  }
  EXPECT_EQ(query(db, "SELECT COUNT(*) FROM jobs"), std::vector<std::string>{"6"}) << "the cut upload made a job";
  EXPECT_EQ(query(db, "SELECT COUNT(*) FROM tasks"), std::vector<std::string>{"0"});

  for (auto& w : workers) w->stop(SIGTERM);
  std::map<std::string, int> finished, assembled;
  for (int i = 0; i < 3; ++i) count_events(testing::slurp((dir.path / ("worker-" + std::to_string(i) + ".log")).string()),
                                           finished, assembled);
  for (const auto& [task, n] : finished) EXPECT_EQ(n, 1) << "task " << task << " finished " << n << " times";
  for (const auto& id : jobs) EXPECT_EQ(assembled[id], 1) << "job " << id;
  const std::size_t tasks_per_job = card["params"]["plain_primes"].size();
  EXPECT_EQ(finished.size(), jobs.size() * tasks_per_job);
  // The killed worker's task was taken over after its lease lapsed.
  std::string all_logs;
  for (int i = 1; i < 3; ++i) all_logs += testing::slurp((dir.path / ("worker-" + std::to_string(i) + ".log")).string());
  EXPECT_NE(all_logs.find("\"attempt\":2"), std::string::npos) << "no task was re-run after the kill";
}

// A PostgreSQL restart, `-m fast` and then `-m immediate`, each while a worker process holds a
// running task: the API node (`serve --workers 0`) and 2 `leukocrypt worker` processes keep
// running (none restarted), the API node answers again, every job's result is exact, every task
// finished once and every job assembled once.
TEST(ScaleOut, DatabaseRestartsAreSurvivedWithoutRestartingOurProcesses) {
  if (!leukocrypt::testing::can_control_test_cluster())
    GTEST_SKIP() << "needs the throw-away cluster of with_postgres.sh";
  std::signal(SIGPIPE, SIG_IGN);
  testing::TempDir dir("scaleout-restart");
  leukocrypt::testing::TinySetup tiny(dir.path);
  const auto tokens = dir.path / "tokens.txt";
  write_file_atomic(tokens, "alice " + kToken + "\n", 0600);
  const std::string dbname = "lc_scaleout_restart_" + std::to_string(::getpid());
  leukocrypt::testing::create_test_database(dbname);
  leukocrypt::testing::commit_synchronously(dbname);
  const std::string db = "postgresql:///" + dbname;
  const auto blobs = dir.path / "blobs";
  const auto cells = testing::real_cells(4);
  const auto images = load_images(cells, 16);
  std::vector<const std::uint8_t*> ptrs;
  for (const auto& c : images) ptrs.push_back(c.pixels.data());
  const auto raw = nn::make_raw_backend()->run(tiny.plan, ptrs);

  testing::ServerProcess api({kCli, "serve", "--model", tiny.model.string(), "--params", tiny.params.string(), kInsecure,
                              "--db", db, "--blobs", blobs.string(), "--tokens", tokens.string(), "--workers", "0",
                              "--lease-s", "5"},
                             dir.path);
  ASSERT_GT(api.port(), 0) << api.log();
  std::vector<std::unique_ptr<Child>> workers;
  for (int i = 0; i < 2; ++i)
    workers.push_back(std::make_unique<Child>(
        std::vector<std::string>{kCli, "worker", "--db", db, "--blobs", blobs.string(), "--model", tiny.model.string(),
                                 "--params", tiny.params.string(), kInsecure, "--id", "w" + std::to_string(i),
                                 "--lease-s", "5", "--poll-s", "0.05"},
        (dir.path / ("worker-" + std::to_string(i) + ".log")).string()));

  ServiceClient sc(api.url(), kToken);
  const auto card = sc.model_card();
  KeyPaths paths(dir.path / "keys");
  keygen(wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
  KeyHolder kh(paths, /*allow_insecure_for_tests=*/true);
  sc.register_keys(read_key_file(paths.eval, wire::Kind::kEvalKeys));
  std::vector<std::string> jobs;
  StorePoll poll(db);
  for (const std::string mode : {"fast", "immediate"}) {
    for (std::size_t j = 0; j < 3; ++j) {
      std::vector<CellInput> batch;
      for (std::size_t i = 0; i < 2; ++i) batch.push_back(images[(jobs.size() + i) % images.size()]);
      jobs.push_back(sc.submit(kh.encrypt(batch, card["model_id"])));
    }
    bool running = false;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!running && std::chrono::steady_clock::now() < deadline) {
      running = poll.any("SELECT 1 FROM tasks WHERE state='running'");
      if (!running) std::this_thread::sleep_for(1ms);
    }
    ASSERT_TRUE(running) << "no task ever ran";
    ASSERT_TRUE(leukocrypt::testing::test_cluster_ctl("restart", mode)) << "pg_ctl restart -m " << mode;
  }
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    auto st = sc.wait(jobs[j], std::chrono::seconds(60));
    ASSERT_EQ(st["status"], "done") << st.dump();
    auto got = kh.decrypt(sc.result(jobs[j]));
    ASSERT_EQ(got.size(), 2u);
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::size_t c = (j + i) % images.size();
      EXPECT_EQ(got[i].exact[0], nn::to_string128(raw.exact[2 * c])) << "job " << j << " cell " << i;
      EXPECT_EQ(got[i].exact[1], nn::to_string128(raw.exact[2 * c + 1])) << "job " << j << " cell " << i;
    }
  }
  EXPECT_EQ(query(db, "SELECT COUNT(*) FROM jobs WHERE state='done'"), std::vector<std::string>{"6"});
  for (auto& w : workers) {
    int st = 0;
    EXPECT_EQ(::waitpid(w->pid, &st, WNOHANG), 0) << "a worker process ended:\n" << testing::slurp(w->log);
  }
  for (auto& w : workers) w->stop(SIGTERM);
  std::map<std::string, int> finished, assembled;
  for (int i = 0; i < 2; ++i) count_events(testing::slurp((dir.path / ("worker-" + std::to_string(i) + ".log")).string()),
                                           finished, assembled);
  for (const auto& [task, n] : finished) EXPECT_EQ(n, 1) << "task " << task << " finished " << n << " times";
  for (const auto& id : jobs) EXPECT_EQ(assembled[id], 1) << "job " << id;
  EXPECT_EQ(finished.size(), jobs.size() * card["params"]["plain_primes"].size());
}

// Keys for a provider's card in its scheme (BFV or CKKS), registered with it.
KeyHolder keys_for(ServiceClient& sc, const nlohmann::json& card, const KeyPaths& paths) {
  if (nn::is_ckks_document(card))
    keygen(nn::ckks_settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
  else
    keygen(wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
  sc.register_keys(read_key_file(paths.eval, wire::Kind::kEvalKeys));
  return KeyHolder(paths, /*allow_insecure_for_tests=*/true);
}

// A CKKS job on the scale-out path: an API node (`serve --workers 0`) queues it in PostgreSQL and a
// `leukocrypt worker` started with the same CKKS parameters claims it and stores the result; the
// key holder decrypts labels equal to the float model's argmax on real C-NMC cells. A CKKS worker
// started with circuit privacy on refuses to start, with one line, as `serve` does. INSECURE
// N = 1024 CKKS test parameters.
TEST(ScaleOut, CkksJobClaimedByAWorkerFinishesWithTheFloatModelsLabels) {
  if (!leukocrypt::testing::testing_postgres()) GTEST_SKIP() << "needs the throw-away cluster of with_postgres.sh";
  std::signal(SIGPIPE, SIG_IGN);
  ScaleOutSetup setup("scaleout-ckks");
  const auto& [dir, tiny, tokens] = setup;
  const std::string db = setup.database("lc_scaleout_ckks");
  const auto blobs = dir.path / "blobs";

  const auto cells = testing::real_cells(3);
  const auto images = load_images(cells, 16);
  std::vector<const std::uint8_t*> ptrs;
  for (const auto& c : images) ptrs.push_back(c.pixels.data());
  const auto params = tiny.insecure_ckks_params(dir.path / "params-ckks-insecure-test.json", ptrs);
  const auto fl = nn::make_float_backend()->run(tiny.plan, ptrs);

  const std::vector<std::string> worker_args{kCli,     "worker", "--db",    db, "--blobs", blobs.string(), "--model",
                                             tiny.model.string(), "--params", params.string(), kInsecure,
                                             "--id",   "wc",     "--lease-s", "1", "--poll-s", "0.05"};
  {  // CKKS parameters without a flood: a worker without --no-circuit-privacy does not start
    const auto r = testing::run(worker_args, dir.path, 60);
    const auto& out = r.output;
    EXPECT_EQ(r.status, 1) << out;
    EXPECT_NE(out.find("--no-circuit-privacy"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  testing::ServerProcess api({kCli, "serve", "--model", tiny.model.string(), "--params", params.string(), kInsecure,
                              "--no-circuit-privacy", "--db", db, "--blobs", blobs.string(), "--tokens",
                              tokens.string(), "--workers", "0", "--lease-s", "1"},
                             dir.path);
  ASSERT_GT(api.port(), 0) << api.log();
  auto args = worker_args;
  args.push_back("--no-circuit-privacy");
  Child worker(args, (dir.path / "worker.log").string());

  ServiceClient sc(api.url(), kToken);
  const auto card = sc.model_card();
  ASSERT_EQ(card["scheme"], "ckks") << card.dump();
  auto kh = keys_for(sc, card, KeyPaths(dir.path / "keys"));
  const auto job = sc.submit(kh.encrypt(images, card["model_id"]));
  auto st = sc.wait(job, std::chrono::seconds(60));
  ASSERT_EQ(st["status"], "done") << st.dump() << testing::slurp(worker.log);
  EXPECT_EQ(st["info"]["scheme"], "ckks") << st.dump();
  auto got = kh.decrypt(sc.result(job));
  ASSERT_EQ(got.size(), images.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].label, fl.predicted(i)) << "cell " << i;
    EXPECT_TRUE(got[i].exact.empty());
    for (std::size_t o = 0; o < 2; ++o)  // within twice the precision model's bound, as cli_ckks_test checks
      EXPECT_NEAR(got[i].logits[o], fl.logits[i * fl.outputs + o],
                  2 * card["params"]["predicted_logit_error"].get<double>()) << "cell " << i;
  }
  worker.stop(SIGTERM);
  const auto log = testing::slurp(worker.log);
  EXPECT_NE(log.find("\"event\":\"job_ended\""), std::string::npos) << log;  // the worker ran it, not the API node
  EXPECT_NE(log.find("\"status\":\"done\""), std::string::npos) << log;
}

// A worker started with the other scheme's parameters than the API node's (a deployment mistake),
// both ways round: the job fails at once with a reason naming both schemes and the fix, never with
// a key loader's obscure error or a result from keys it cannot use.
TEST(ScaleOut, AWorkerOfTheOtherSchemeFailsTheJobWithTheReason) {
  if (!leukocrypt::testing::testing_postgres()) GTEST_SKIP() << "needs the throw-away cluster of with_postgres.sh";
  std::signal(SIGPIPE, SIG_IGN);
  ScaleOutSetup setup("scaleout-mixed");
  const auto& [dir, tiny, tokens] = setup;
  const auto images = load_images(testing::real_cells(1), 16);
  std::vector<const std::uint8_t*> ptrs;
  for (const auto& c : images) ptrs.push_back(c.pixels.data());
  const auto ckks = tiny.insecure_ckks_params(dir.path / "params-ckks-insecure-test.json", ptrs).string();
  const auto bfv = tiny.params.string();
  for (const auto& [api_params, worker_params] : {std::pair{bfv, ckks}, std::pair{ckks, bfv}}) {
    const bool api_ckks = api_params == ckks;
    SCOPED_TRACE(api_ckks ? "CKKS API node, BFV worker" : "BFV API node, CKKS worker");
    const std::string name = api_ckks ? "ckks_api" : "bfv_api";
    const std::string db = setup.database("lc_scaleout_mixed_" + name);
    const auto blobs = dir.path / ("blobs-" + name);
    // --no-circuit-privacy on both: CKKS requires it, and the BFV side then needs no flooding reserve.
    testing::ServerProcess api({kCli, "serve", "--model", tiny.model.string(), "--params", api_params, kInsecure,
                                "--no-circuit-privacy", "--db", db, "--blobs", blobs.string(), "--tokens",
                                tokens.string(), "--workers", "0", "--lease-s", "1"},
                               dir.path);
    ASSERT_GT(api.port(), 0) << api.log();
    Child worker({kCli, "worker", "--db", db, "--blobs", blobs.string(), "--model", tiny.model.string(), "--params",
                  worker_params, kInsecure, "--no-circuit-privacy", "--id", "wx", "--lease-s", "1", "--poll-s", "0.05"},
                 (dir.path / ("worker-" + name + ".log")).string());
    ServiceClient sc(api.url(), kToken);
    const auto card = sc.model_card();
    auto kh = keys_for(sc, card, KeyPaths(dir.path / ("keys-" + name)));
    const auto job = sc.submit(kh.encrypt(images, card["model_id"]));
    nlohmann::json st;
    for (int i = 0; i < 300; ++i) {  // <= 30 s
      st = sc.status(job);
      if (st.value("status", "") == "done" || st.value("status", "") == "failed") break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(st["status"], "failed") << st.dump() << testing::slurp(worker.log);
    const auto why = st.value("error", "");
    const std::string keys_scheme = api_ckks ? "ckks" : "bfv", worker_scheme = api_ckks ? "bfv" : "ckks";
    EXPECT_NE(why.find("made for " + keys_scheme + " parameters"), std::string::npos) << why;
    EXPECT_NE(why.find("this runner has " + worker_scheme + " parameters"), std::string::npos) << why;
    EXPECT_NE(why.find("--params"), std::string::npos) << why;
  }
}

}  // namespace
}  // namespace leukocrypt::client
