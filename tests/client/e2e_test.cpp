// End to end on 127.0.0.1 with real C-NMC cells and the built `leukocrypt` binary:
// keygen -> encrypt -> infer/serve -> decrypt must equal the raw integer model exactly; the server
// survives kill -9 mid-job; bad input gets 4xx JSON errors while the server keeps serving; 8
// concurrent clients all get correct results. The model is the nn tests' tiny network (fixed
// random weights, until trained models are committed) on 3x16x16 cells; parameters are the
// automatic choice at N = 256, INSECURE and named so, for speed — plus one run at 128-bit security.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "client/key_files.h"
#include "client/keyholder.h"
#include "client/service_client.h"
#include "service/wire/he_layout.h"
#include "common/paths.h"
#include "nn/backend.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "cell_files.h"
#include "process.h"
#include "tiny_provider.h"

namespace leukocrypt::client {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;
using testing::ServerProcess;
using testing::TempDir;
using testing::real_cells;

const std::string kCli = LEUKOCRYPT_CLI;

std::vector<std::string> paths_of(const std::vector<fs::path>& v) {
  std::vector<std::string> s;
  for (const auto& p : v) s.push_back(p.string());
  return s;
}

// Shared setup: model, parameters, cells, raw reference logits.
struct World {
  TempDir dir{"e2e"};
  fs::path model, params, secure_params, tokens;
  std::vector<fs::path> cells;
  std::vector<std::string> raw_exact;  // cells x 2, decimal
  std::vector<int> raw_label;
  nn::Plan plan;

  World() {
    auto tiny = testing::write_tiny_provider(dir.path);
    model = tiny.model;
    params = tiny.params;
    plan = tiny.plan;
    nn::ParamsRequest sreq;
    sreq.bits_needed = tiny.bits_needed;
    sreq.images = 12;
    auto sj = nn::choose_params(plan, sreq).to_json();
    sj["quantization"] = tiny.quantize.to_json();
    secure_params = dir.path / "params-128.json";
    write_file_atomic(secure_params, sj.dump(2));

    tokens = dir.path / "tokens.txt";
    std::string t = "alice alice-token-0123456789\nbob bob-token-0123456789ab\n";
    for (int i = 0; i < 8; ++i) t += "c" + std::to_string(i) + " client-" + std::to_string(i) + "-token-abcdefgh\n";
    write_file_atomic(tokens, t);

    cells = real_cells(6);
    auto inputs = load_images(cells, 16);
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
    auto raw = nn::make_raw_backend()->run(plan, ptrs);
    for (auto v : raw.exact) raw_exact.push_back(nn::to_string128(v));
    for (std::size_t i = 0; i < inputs.size(); ++i) raw_label.push_back(raw.predicted(i));
  }

  RunResult cli(std::vector<std::string> args, int timeout_s = 120) {
    args.insert(args.begin(), kCli);
    return testing::run(args, dir.path, timeout_s);
  }

  // card -> keygen into dir/<name>
  fs::path make_keys(const std::string& name, const fs::path& params_file) {
    auto card = dir.path / (name + "-card.json");
    auto r = cli({"card", "--model", model.string(), "--params", params_file.string()});
    EXPECT_EQ(r.status, 0) << r.output;
    write_file_atomic(card, r.output);
    auto keys = dir.path / name;
    r = cli({"keygen", "--params", card.string(), "--out", keys.string()});
    EXPECT_EQ(r.status, 0) << r.output;
    return keys;
  }

  // Checks decrypted cells (JSON array from decrypt/screen --json) against the raw model.
  void expect_equal_to_raw(const nlohmann::json& cells_json, std::size_t count) {
    ASSERT_EQ(cells_json.size(), count);
    for (std::size_t i = 0; i < count; ++i) {
      const auto& c = cells_json[i];
      EXPECT_EQ(c["cell"], cells[i].filename().string());
      EXPECT_EQ(c["label"], raw_label[i]) << i;
      ASSERT_EQ(c["exact_logits"].size(), 2u);
      EXPECT_EQ(c["exact_logits"][0], raw_exact[2 * i]) << "cell " << i;
      EXPECT_EQ(c["exact_logits"][1], raw_exact[2 * i + 1]) << "cell " << i;
      EXPECT_GE(c["probability"].get<double>(), 0.5);
    }
  }
};

World& world() {
  static World w;
  std::signal(SIGPIPE, SIG_IGN);  // a server closing mid-upload must be an error here, not a death
  return w;
}

nlohmann::json parse_output(const RunResult& r) {
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.output;
  return j;
}

TEST(ClientE2E, OfflineKeygenEncryptInferDecryptEqualsRawModel) {
  auto& w = world();
  auto keys = w.make_keys("offline", w.params);
  struct stat st {};
  ASSERT_EQ(::stat((keys / "secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto req = w.dir.path / "offline-request.lcx";
  auto args = std::vector<std::string>{"encrypt", "--keys", keys.string(), "--out", req.string(), "--json"};
  for (auto& c : paths_of(w.cells)) args.push_back(c);
  auto r = w.cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_output(r)["cells"], 12);
  // The provider needs only eval.key: run infer in a directory without the secret key.
  auto provider = w.dir.path / "provider";
  fs::create_directories(provider);
  fs::copy_file(keys / "eval.key", provider / "eval.key");
  auto res = w.dir.path / "offline-result.lcx";
  r = w.cli({"infer", "--model", w.model.string(), "--eval-key", (provider / "eval.key").string(), "--in", req.string(),
             "--out", res.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", res.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  w.expect_equal_to_raw(parse_output(r)["cells"], 12);

  // Truncated files give one clear line and a non-zero exit.
  auto bytes = read_file(res);
  auto cut = w.dir.path / "cut.lcx";
  write_file_atomic(cut, bytes.substr(0, bytes.size() / 2));
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", cut.string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
  // A key holder refuses a world-readable secret key.
  ::chmod((keys / "secret.key").c_str(), 0644);
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", res.string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("chmod 600"), std::string::npos) << r.output;
  ::chmod((keys / "secret.key").c_str(), 0600);
}

TEST(ClientE2E, SecureParamsOfflineRoundTripEqualsRawModel) {
  auto& w = world();
  auto keys = w.make_keys("secure", w.secure_params);
  auto req = w.dir.path / "secure-request.lcx";
  auto args = std::vector<std::string>{"encrypt", "--keys", keys.string(), "--out", req.string()};
  for (auto& c : paths_of(w.cells)) args.push_back(c);
  args.push_back("--json");
  auto r = w.cli(args, 300);
  ASSERT_EQ(r.status, 0) << r.output;
  auto res = w.dir.path / "secure-result.lcx";
  r = w.cli({"infer", "--model", w.model.string(), "--params", w.secure_params.string(), "--eval-key",
             (keys / "eval.key").string(), "--in", req.string(), "--out", res.string(), "--json"},
            300);
  ASSERT_EQ(r.status, 0) << r.output;
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", res.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  w.expect_equal_to_raw(parse_output(r)["cells"], 12);
}

TEST(ClientE2E, ScreenThroughServerEqualsRawModel) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--db",
                        (w.dir.path / "screen.db").string(), "--tokens", w.tokens.string()},
                       w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  // keygen from the served model card, as a key holder would.
  ServiceClient sc(server.url(), "alice-token-0123456789");
  auto card_path = w.dir.path / "served-card.json";
  write_file_atomic(card_path, sc.model_card().dump());
  auto keys = w.dir.path / "screen-keys";
  auto r = w.cli({"keygen", "--params", card_path.string(), "--out", keys.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  auto args = std::vector<std::string>{"screen", "--server", server.url(), "--token", "alice-token-0123456789",
                                       "--keys", keys.string(), "--json", "--timeout", "120"};
  for (auto& c : paths_of(w.cells)) args.push_back(c);
  r = w.cli(args);
  ASSERT_EQ(r.status, 0) << r.output << server.log();
  auto j = parse_output(r);
  w.expect_equal_to_raw(j["cells"], 12);
  EXPECT_GT(j["bytes_sent_per_cell"].get<double>(), 0);
  EXPECT_GT(j["bytes_received_per_cell"].get<double>(), 0);
  // Results are mod-switched: far smaller than the upload.
  EXPECT_LT(j["bytes_received"].get<double>(), j["bytes_request"].get<double>());
  // The server reports the same sizes per cell in the job status.
  auto st = sc.status(j["job_id"]);
  EXPECT_EQ(st["request_bytes"], j["bytes_request"]);
  EXPECT_DOUBLE_EQ(st["info"]["request_bytes_per_cell"].get<double>(), j["bytes_sent_per_cell"].get<double>());
  EXPECT_DOUBLE_EQ(st["info"]["result_bytes_per_cell"].get<double>(), j["bytes_received_per_cell"].get<double>());
}

// A key holder in this process: keys for the served model, registered under `token`.
struct InProcessClient {
  std::unique_ptr<ServiceClient> sc;
  std::unique_ptr<KeyHolder> kh;
  KeyPaths paths;
  nlohmann::json card;
  InProcessClient(const std::string& url, const std::string& token, const fs::path& dir)
      : sc(std::make_unique<ServiceClient>(url, token)), paths(dir) {
    card = sc->model_card();
    keygen(wire::settings_from_json(card, "card"), paths, card, false);
    kh = std::make_unique<KeyHolder>(paths);
    sc->register_keys(read_key_file(paths.eval, wire::Kind::kEvalKeys));
  }
  std::string request(const std::vector<fs::path>& files) const {
    return kh->encrypt(load_images(files, 16), card["model_id"]);
  }
};

void expect_cells_equal_raw(World& w, const std::vector<CellResult>& got, std::size_t offset) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::size_t c = (offset + i) % w.cells.size();
    EXPECT_EQ(got[i].name, w.cells[c].filename().string());
    EXPECT_EQ(got[i].label, w.raw_label[c]);
    EXPECT_EQ(got[i].exact[0], w.raw_exact[2 * c]);
    EXPECT_EQ(got[i].exact[1], w.raw_exact[2 * c + 1]);
  }
}

std::vector<fs::path> rotated(const std::vector<fs::path>& v, std::size_t offset, std::size_t n) {
  std::vector<fs::path> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(v[(offset + i) % v.size()]);
  return out;
}

TEST(ClientE2E, KillMinus9WhileRunningThenRestartLosesNothing) {
  auto& w = world();
  auto db = (w.dir.path / "kill.db").string();
  std::vector<std::string> args{kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--db", db,
                                "--tokens", w.tokens.string(), "--workers", "1"};
  auto server = std::make_unique<ServerProcess>(args, w.dir.path);
  ASSERT_GT(server->port(), 0) << server->log();
  InProcessClient alice(server->url(), "alice-token-0123456789", w.dir.path / "kill-keys");
  // Several jobs so one is surely running (one worker) when the server is killed.
  std::vector<std::string> jobs;
  for (std::size_t k = 0; k < 4; ++k) jobs.push_back(alice.sc->submit(alice.request(rotated(w.cells, k, 12))));
  bool killed_running = false;
  for (int i = 0; i < 3000 && !killed_running; ++i) {  // <= 30 s
    for (const auto& id : jobs) {
      if (alice.sc->status(id).value("status", "") == "running") {
        server->kill(SIGKILL);
        killed_running = true;
        break;
      }
    }
    if (!killed_running) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(killed_running) << "never saw a running job";
  EXPECT_FALSE(server->alive());
  server.reset();

  server = std::make_unique<ServerProcess>(args, w.dir.path);  // same database, new port
  ASSERT_GT(server->port(), 0) << server->log();
  EXPECT_NE(server->log().find("re-queued"), std::string::npos) << server->log();
  ServiceClient sc(server->url(), "alice-token-0123456789");
  int retried = 0;
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    auto st = sc.wait(jobs[k], std::chrono::seconds(120));
    EXPECT_EQ(st["status"], "done");
    retried += st["attempts"].get<int>() > 1;
    expect_cells_equal_raw(w, alice.kh->decrypt(sc.result(jobs[k])), k);
  }
  EXPECT_GE(retried, 1);
}

TEST(ClientE2E, BadInputGetsJsonErrorsAndServerKeepsServing) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--db",
                        (w.dir.path / "bad.db").string(), "--tokens", w.tokens.string(), "--max-request-mb", "64"},
                       w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  InProcessClient alice(server.url(), "alice-token-0123456789", w.dir.path / "bad-keys-alice");
  auto good = alice.request(rotated(w.cells, 0, 2));
  httplib::Client http("127.0.0.1", server.port());
  http.set_read_timeout(60);
  http.set_write_timeout(60);
  const httplib::Headers alice_h{{"Authorization", "Bearer alice-token-0123456789"}};
  const httplib::Headers bob_h{{"Authorization", "Bearer bob-token-0123456789ab"}};
  auto expect_error = [&](const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r->body;
    EXPECT_EQ(j["error"]["status"], status);
    if (!code.empty()) {
      EXPECT_EQ(j["error"]["code"], code) << r->body;
    }
    auto h = http.Get("/healthz");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
  };
  const char* bin = "application/octet-stream";
  expect_error(http.Post("/v1/jobs", alice_h, good.substr(0, good.size() / 2), bin), 400, "invalid_format");
  expect_error(http.Post("/v1/jobs", alice_h, std::string(5000, '\x42'), bin), 400, "invalid_format");
  // A coefficient out of range inside a ciphertext: caught by the HE loader before queueing.
  auto bad = good;
  auto view = wire::parse(bad, "t");
  std::size_t off = static_cast<std::size_t>(view.blobs[0].data() - bad.data()) + view.blobs[0].size() / 2;
  std::fill(bad.begin() + off, bad.begin() + off + 16, '\xff');
  expect_error(http.Post("/v1/jobs", alice_h, bad, bin), 400, "invalid_format");
  // Bob has no key with Alice's key id (wrong key id for him).
  expect_error(http.Post("/v1/jobs", bob_h, good, bin), 404, "key_not_found");
  // Keys for other parameters are refused at registration.
  auto secure_keys = w.make_keys("bad-secure", w.secure_params);
  expect_error(http.Post("/v1/keys", bob_h, read_file(secure_keys / "eval.key"), bin), 400, "invalid_format");
  // The secret key is never accepted.
  expect_error(http.Post("/v1/keys", alice_h, read_file(w.dir.path / "bad-keys-alice" / "secret.key"), bin), 400,
               "secret_key_refused");
  // Oversized (limit 64 MiB).
  expect_error(http.Post("/v1/jobs", alice_h, std::string(65u << 20, 'x'), bin), 413, "payload_too_large");
  // leukocrypt's client checks the advertised limit and sends nothing.
  auto huge = w.dir.path / "huge.lcx";
  {
    wire::AtomicFile f(huge);
    f.append(std::string(65u << 20, 'x'));
    f.commit();
  }
  try {
    alice.sc->submit_file(huge);
    ADD_FAILURE() << "an oversized request was accepted";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status(), 413) << e.what();
  }
  fs::remove(huge);
  expect_error(http.Get("/v1/model"), 401, "unauthorized");
  // Another client's job id.
  auto id = alice.sc->submit(good);
  expect_error(http.Get(("/v1/jobs/" + id).c_str(), bob_h), 404, "job_not_found");
  expect_error(http.Get(("/v1/jobs/" + id + "/result").c_str(), bob_h), 404, "job_not_found");
  // Still serving: Alice's job completes correctly.
  alice.sc->wait(id, std::chrono::seconds(60));
  expect_cells_equal_raw(w, alice.kh->decrypt(alice.sc->result(id)), 0);
}

TEST(ClientE2E, EightConcurrentClientsAllCorrect) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--db",
                        (w.dir.path / "eight.db").string(), "--tokens", w.tokens.string(), "--workers", "2"},
                       w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  std::vector<std::unique_ptr<InProcessClient>> clients;
  std::vector<std::string> requests;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<InProcessClient>(server.url(), "client-" + std::to_string(i) + "-token-abcdefgh",
                                                        w.dir.path / ("eight-keys-" + std::to_string(i))));
    requests.push_back(clients.back()->request(rotated(w.cells, std::size_t(i), 3)));
  }
  std::vector<std::vector<CellResult>> results(8);
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      try {
        auto& c = *clients[i];
        auto id = c.sc->submit(requests[i]);  // all eight at once
        c.sc->wait(id, std::chrono::seconds(120));
        results[i] = c.kh->decrypt(c.sc->result(id));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(errors[i], "") << "client " << i;
    ASSERT_EQ(results[i].size(), 3u) << "client " << i;
    expect_cells_equal_raw(w, results[i], std::size_t(i));
  }
}

}  // namespace
}  // namespace leukocrypt::client
