// The latency layout end to end on 127.0.0.1 with real C-NMC cells and the built `leukocrypt`
// binary: card -> keygen (with Galois keys) -> encrypt --layout latency -> infer/serve -> decrypt
// equals the raw integer model exactly for a 1-cell and a 100-cell request; one key serves both
// layouts and is registered once; a latency request without Galois keys, or whose header packing
// contradicts its blobs, gets a 4xx. Model: the nn tests' tiny network on 3x16x16 cells;
// parameters INSECURE (N = 2048, named so) for speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

#include "client/key_files.h"
#include "client/keyholder.h"
#include "client/service_client.h"
#include "common/paths.h"
#include "nn/backend.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "process.h"
#include "tiny_setup.h"
#include "service/wire/he_layout.h"
#include "test_models.h"

namespace leukocrypt::client {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;
using testing::ServerProcess;

const std::string kCli = LEUKOCRYPT_CLI;

struct LatencyWorld {
  fs::path dir, model, params, tokens;
  std::vector<fs::path> cells;         // 100 real cells: 50 ALL, 50 hem
  std::vector<std::string> raw_exact;  // cells x 2
  LatencyWorld() {
    dir = fs::temp_directory_path() / ("lc-latency-" + std::to_string(::getpid()) + "-" + wire::random_id().substr(0, 8));
    fs::create_directories(dir);
    testing::TinySetup tiny(dir);
    model = tiny.model;
    const auto& plan = tiny.plan;
    params = tiny.insecure_latency_params(dir / "params-latency-insecure-test.json");
    tokens = dir / "tokens.txt";
    write_file_atomic(tokens, "alice alice-token-0123456789\n", 0600);  // serve refuses a readable tokens file
    fs::path root = fs::path(LEUKOCRYPT_DATA_DIR) / "cnmc-fold1-225";
    for (const char* cls : {"all", "hem"}) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(root / cls)) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      files.resize(std::min<std::size_t>(files.size(), 50));
      cells.insert(cells.end(), files.begin(), files.end());
    }
    auto inputs = load_images(cells, 16);
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
    for (auto v : nn::make_raw_backend()->run(plan, ptrs).exact) raw_exact.push_back(nn::to_string128(v));
  }
  ~LatencyWorld() {
    std::error_code ec;
    if (!std::getenv("LEUKOCRYPT_KEEP_TEST_DIR")) fs::remove_all(dir, ec);
  }
  // Every command gets --insecure-for-tests: these parameters are N = 2048 with 400-bit q.
  RunResult cli(std::vector<std::string> args, int timeout_s = 300) {
    args.insert(args.begin(), kCli);
    args.push_back("--insecure-for-tests");
    // JSON on stdout is parsed: keep the insecure-parameter warning (stderr) out of it.
    const bool json = args[1] == "card" || std::find(args.begin(), args.end(), "--json") != args.end();
    return testing::run(args, dir, timeout_s, json);
  }
  std::vector<std::string> cell_args(std::size_t n) const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(cells[i].string());
    return out;
  }
  void expect_raw(const nlohmann::json& got, std::size_t n) const {
    ASSERT_EQ(got.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(got[i]["cell"], cells[i].filename().string());
      EXPECT_EQ(got[i]["exact_logits"][0], raw_exact[2 * i]) << "cell " << i;
      EXPECT_EQ(got[i]["exact_logits"][1], raw_exact[2 * i + 1]) << "cell " << i;
    }
  }
};

LatencyWorld& world() {
  static LatencyWorld w;
  std::signal(SIGPIPE, SIG_IGN);
  return w;
}

nlohmann::json parse_output(const RunResult& r) {
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.output;
  return j;
}

TEST(LatencyE2E, OfflineOneAndHundredCellsEqualRawModel) {
  auto& w = world();
  auto r = w.cli({"card", "--model", w.model.string(), "--params", w.params.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  auto card = parse_output(r);
  ASSERT_TRUE(card.contains("latency")) << r.output;
  EXPECT_EQ(card["layouts"].size(), 2u);  // one parameter set carries both layouts
  write_file_atomic(w.dir / "card.json", r.output);
  const auto keys = w.dir / "offline-keys";
  r = w.cli({"keygen", "--params", (w.dir / "card.json").string(), "--out", keys.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_output(r)["galois_keys"], card["latency"]["galois_steps"].size());
  for (std::size_t n : {std::size_t(1), std::size_t(100)}) {
    const auto req = w.dir / ("req" + std::to_string(n) + ".lcx"), res = w.dir / ("res" + std::to_string(n) + ".lcx");
    auto args = std::vector<std::string>{"encrypt", "--keys", keys.string(), "--layout", "latency", "--out",
                                         req.string(), "--json"};
    for (auto& c : w.cell_args(n)) args.push_back(c);
    r = w.cli(args);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(parse_output(r)["layout"], "latency");
    r = w.cli({"infer", "--model", w.model.string(), "--eval-key", (keys / "eval.key").string(), "--in", req.string(),
               "--out", res.string(), "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    r = w.cli({"decrypt", "--keys", keys.string(), "--in", res.string(), "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    w.expect_raw(parse_output(r)["cells"], n);
  }
  // The same keys in the throughput layout.
  auto args = std::vector<std::string>{"encrypt", "--keys", keys.string(), "--layout", "throughput", "--out",
                                       (w.dir / "t.lcx").string()};
  for (auto& c : w.cell_args(3)) args.push_back(c);
  ASSERT_EQ(w.cli(args).status, 0);
  r = w.cli({"infer", "--model", w.model.string(), "--eval-key", (keys / "eval.key").string(), "--in",
             (w.dir / "t.lcx").string(), "--out", (w.dir / "t-res.lcx").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", (w.dir / "t-res.lcx").string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  w.expect_raw(parse_output(r)["cells"], 3);
}

TEST(LatencyE2E, ScreenOneAndHundredCellsThroughServerRegistersKeysOnce) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--insecure-for-tests", "--db",
                        (w.dir / "screen.db").string(), "--tokens", w.tokens.string()},
                       w.dir);
  ASSERT_GT(server.port(), 0) << server.log();
  ServiceClient sc(server.url(), "alice-token-0123456789");
  write_file_atomic(w.dir / "served-card.json", sc.model_card().dump());
  const auto keys = w.dir / "screen-keys";
  auto r = w.cli({"keygen", "--params", (w.dir / "served-card.json").string(), "--out", keys.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  bool first = true;
  for (std::size_t n : {std::size_t(1), std::size_t(100)}) {
    auto args = std::vector<std::string>{"screen", "--server", server.url(), "--token", "alice-token-0123456789",
                                         "--keys", keys.string(), "--layout", "latency", "--json", "--timeout", "300"};
    for (auto& c : w.cell_args(n)) args.push_back(c);
    r = w.cli(args);
    ASSERT_EQ(r.status, 0) << r.output << server.log();
    auto j = parse_output(r);
    w.expect_raw(j["cells"], n);
    EXPECT_EQ(j["layout"], "latency");
    EXPECT_EQ(j["eval_key_uploaded"], first);  // registered once per key, not per job
    // ... and loaded once: the second job reuses the Galois keys and diagonals of the first.
    EXPECT_EQ(sc.status(j["job_id"])["info"]["keys_cached"], !first);
    first = false;
  }
}

TEST(LatencyE2E, MissingGaloisKeysAndContradictoryPackingAreRefused) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--insecure-for-tests", "--db",
                        (w.dir / "refuse.db").string(), "--tokens", w.tokens.string()},
                       w.dir);
  ASSERT_GT(server.port(), 0) << server.log();
  ServiceClient sc(server.url(), "alice-token-0123456789");
  auto card = sc.model_card();
  auto latency = card["latency"];
  card.erase("latency");  // keys without Galois keys
  const KeyPaths paths(w.dir / "no-galois-keys");
  keygen(wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
  {
    KeyHolder kh(paths, /*allow_insecure_for_tests=*/true);
    EXPECT_THROW(kh.set_layout(nn::Layout::kLatency), InvalidArgument);
  }
  // A key holder that knows the layout but registered keys without Galois keys: 400.
  auto info = read_key_info(paths);
  info["latency"] = latency;
  write_file_mode(paths.info, info.dump(2), 0644);
  KeyHolder kh(paths, /*allow_insecure_for_tests=*/true);
  kh.set_layout(nn::Layout::kLatency);
  sc.register_keys(read_key_file(paths.eval, wire::Kind::kEvalKeys));
  const auto request = kh.encrypt(load_images({w.cells[0]}, 16), card["model_id"]);
  try {
    sc.submit(request);
    FAIL() << "latency request without Galois keys accepted";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "missing_galois_keys") << e.what();
  }
  // The header says throughput while the blobs are latency-packed: accepted on the header (202,
  // validating), refused by the full check: the job fails and its result answers 422 naming the layout.
  auto view = wire::parse(request, "request");
  const std::size_t packing_at = 4 + 2 + 2 + 8 + 4 + view.key_id.size() + 4 + view.model_id.size() + 4;
  ASSERT_EQ(request[packing_at], 1);
  auto flipped = request;
  flipped[packing_at] = 0;
  const std::string id = sc.submit(flipped);
  try {
    sc.wait(id, std::chrono::seconds(120));
    FAIL() << "contradictory packing accepted";
  } catch (const ServiceError& e) {
    EXPECT_NE(std::string(e.what()).find("layout"), std::string::npos) << e.what();
  }
  try {
    sc.result(id);
    FAIL() << "result of a refused request";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status(), 422) << e.what();
  }
}

}  // namespace
}  // namespace leukocrypt::client
