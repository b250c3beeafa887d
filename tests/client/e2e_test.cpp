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
#include <iostream>
#include <thread>

#include "client/key_files.h"
#include "client/keyholder.h"
#include "client/service_client.h"
#include "he/bfv/context.h"
#include "he/bfv/serialization.h"
#include "service/wire/he_layout.h"
#include "common/error.h"
#include "common/paths.h"
#include "nn/backend.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "cell_files.h"
#include "process.h"
#include "raw_connection.h"
#include "test_models.h"
#include "tiny_setup.h"

namespace leukocrypt::client {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;
using testing::ServerProcess;
using testing::TempDir;
using testing::real_cells;

const std::string kCli = LEUKOCRYPT_CLI;
// Every command that runs with the tiny N = 256 test parameters needs this explicit flag.
const std::string kInsecure = "--insecure-for-tests";

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
    testing::TinySetup tiny(dir.path);
    model = tiny.model;
    params = tiny.params;
    plan = tiny.plan;
    secure_params = tiny.secure_params(dir.path / "params-128.json", 12);

    tokens = dir.path / "tokens.txt";
    std::string t = "alice alice-token-0123456789\nbob bob-token-0123456789ab\n"
                    "carol carol-token-expired-0123 2020-01-01T00:00:00Z\n";  // expired (optional column)
    for (int i = 0; i < 8; ++i) t += "c" + std::to_string(i) + " client-" + std::to_string(i) + "-token-abcdefgh\n";
    write_file_atomic(tokens, t, 0600);  // serve refuses a tokens file others can read

    cells = real_cells(6);
    auto inputs = load_images(cells, 16);
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
    auto raw = nn::make_raw_backend()->run(plan, ptrs);
    for (auto v : raw.exact) raw_exact.push_back(nn::to_string128(v));
    for (std::size_t i = 0; i < inputs.size(); ++i) raw_label.push_back(raw.predicted(i));
  }

  // stdout_only: the output to parse as JSON (the insecure-parameters warning goes to stderr).
  RunResult cli(std::vector<std::string> args, int timeout_s = 120, bool stdout_only = false) {
    args.insert(args.begin(), kCli);
    return testing::run(args, dir.path, timeout_s, stdout_only);
  }

  // card -> keygen into dir/<name> (with --insecure-for-tests for the tiny test parameters).
  fs::path make_keys(const std::string& name, const fs::path& params_file) {
    auto card = dir.path / (name + "-card.json");
    std::vector<std::string> card_args{"card", "--model", model.string(), "--params", params_file.string()};
    auto keys = dir.path / name;
    std::vector<std::string> keygen_args{"keygen", "--params", card.string(), "--out", keys.string()};
    if (params_file == params) card_args.push_back(kInsecure), keygen_args.push_back(kInsecure);
    auto r = cli(card_args, 120, /*stdout_only=*/true);
    EXPECT_EQ(r.status, 0) << r.output;
    write_file_atomic(card, r.output);
    r = cli(keygen_args);
    EXPECT_EQ(r.status, 0) << r.output;
    return keys;
  }

  // keygen from a served model card into dir/<name>, as a key holder would, then `screen` every
  // test cell through `url` with those keys (--json on stdout).
  RunResult keygen_and_screen(const nlohmann::json& card, const std::string& name, const std::string& url) {
    auto card_path = dir.path / (name + "-card.json");
    write_file_atomic(card_path, card.dump());
    auto keys = dir.path / name;
    auto r = cli({"keygen", "--params", card_path.string(), "--out", keys.string(), kInsecure});
    if (r.status != 0) return r;
    auto args = std::vector<std::string>{"screen", "--server", url, "--token", "alice-token-0123456789",
                                         "--keys", keys.string(), "--json", "--timeout", "120", kInsecure};
    for (const auto& c : cells) args.push_back(c.string());
    return cli(args, 120, true);
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
  auto args = std::vector<std::string>{"encrypt", "--keys", keys.string(), "--out", req.string(), "--json", kInsecure};
  for (auto& c : paths_of(w.cells)) args.push_back(c);
  auto r = w.cli(args, 120, true);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_output(r)["cells"], 12);
  // The provider needs only eval.key: run infer in a directory without the secret key.
  auto provider = w.dir.path / "provider";
  fs::create_directories(provider);
  fs::copy_file(keys / "eval.key", provider / "eval.key");
  auto res = w.dir.path / "offline-result.lcx";
  r = w.cli({"infer", "--model", w.model.string(), "--eval-key", (provider / "eval.key").string(), "--in", req.string(),
             "--out", res.string(), "--json", kInsecure});
  ASSERT_EQ(r.status, 0) << r.output;
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", res.string(), "--json", kInsecure}, 120, true);
  ASSERT_EQ(r.status, 0) << r.output;
  w.expect_equal_to_raw(parse_output(r)["cells"], 12);

  // Truncated files give one clear line and a non-zero exit.
  auto bytes = read_file(res);
  auto cut = w.dir.path / "cut.lcx";
  write_file_atomic(cut, bytes.substr(0, bytes.size() / 2));
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", cut.string(), kInsecure});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
  // A key holder refuses a world-readable secret key.
  ::chmod((keys / "secret.key").c_str(), 0644);
  r = w.cli({"decrypt", "--keys", keys.string(), "--in", res.string(), kInsecure});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("chmod 600"), std::string::npos) << r.output;
  ::chmod((keys / "secret.key").c_str(), 0600);
}

// A provider cannot make a patient encrypt under breakable parameters: a model card or params.json
// below 128 bits is refused by every command (one line, exit 1) unless that command is given
// --insecure-for-tests, and then it warns loudly on stderr. The card's "security" field is ignored.
TEST(ClientE2E, InsecureParamsNeedTheFlagOnEveryCommand) {
  auto& w = world();
  auto expect_refused = [](const RunResult& r, const std::string& what) {
    EXPECT_EQ(r.status, 1) << what << ": " << r.output;
    EXPECT_NE(r.output.find("below 128-bit security"), std::string::npos) << what << ": " << r.output;
    EXPECT_NE(r.output.find("--insecure-for-tests"), std::string::npos) << what << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << what << ": " << r.output;
  };
  expect_refused(w.cli({"card", "--model", w.model.string(), "--params", w.params.string()}), "card");
  ServerProcess refused({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), "--db",
                         (w.dir.path / "refused.db").string(), "--insecure-no-auth"},
                        w.dir.path);
  EXPECT_EQ(refused.port(), 0);
  EXPECT_NE(refused.log().find("below 128-bit security"), std::string::npos) << refused.log();

  // With the flag: a warning on stderr, the card on stdout (which still says what it is).
  auto r = w.cli({"card", "--model", w.model.string(), "--params", w.params.string(), kInsecure}, 120, true);
  ASSERT_EQ(r.status, 0) << r.output << r.errors;
  EXPECT_NE(r.errors.find("WARNING: INSECURE ENCRYPTION PARAMETERS"), std::string::npos) << r.errors;
  auto card = parse_output(r);
  EXPECT_EQ(card["params"]["security"], "insecure-for-tests");
  // keygen checks the card's parameters itself, whatever the card claims.
  for (const char* claim : {"insecure-for-tests", "128"}) {
    card["params"]["security"] = claim;
    auto path = w.dir.path / (std::string("card-claims-") + claim + ".json");
    write_file_atomic(path, card.dump());
    expect_refused(w.cli({"keygen", "--params", path.string(), "--out", (w.dir.path / "never").string()}),
                   std::string("keygen, card claiming ") + claim);
    EXPECT_FALSE(fs::exists(w.dir.path / "never" / "secret.key"));
  }
  auto keys = w.make_keys("flagged", w.params);
  // Keys for such a set are no use without the flag either.
  expect_refused(w.cli({"infer", "--model", w.model.string(), "--params", w.params.string(), "--eval-key",
                        (keys / "eval.key").string(), "--in", "x", "--out", "y"}),
                 "infer");
  expect_refused(w.cli({"decrypt", "--keys", keys.string(), "--in", "x"}), "decrypt");
  expect_refused(w.cli({"encrypt", "--keys", keys.string(), "--out", "x", paths_of(w.cells)[0]}), "encrypt");
  expect_refused(w.cli({"screen", "--server", "http://127.0.0.1:1", "--keys", keys.string(),
                        paths_of(w.cells)[0]}),
                 "screen");
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
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure, "--db",
                        (w.dir.path / "screen.db").string(), "--tokens", w.tokens.string()},
                       w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  // keygen from the served model card, as a key holder would.
  ServiceClient sc(server.url(), "alice-token-0123456789");
  auto r = w.keygen_and_screen(sc.model_card(), "screen-keys", server.url());
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
  // Results were re-randomised and noise-flooded (on by default), and are still exact (above).
  EXPECT_EQ(st["info"]["circuit_privacy"], true) << st.dump();
  EXPECT_EQ(sc.model_card()["circuit_privacy"]["statistical_security_bits"], 40);
}

// The throughput layout with spatial blocks (4 blocks, 2 per slot row: a rotation and the row
// swap) through the service: the card's 'blocks' section, keygen's block-sum keys, the blocked
// request, the masked and flooded results; exact logits; keys for other parameters are refused
// (a request packed with other blocks: WireBlocks below).
TEST(ClientE2E, ScreenWithSpatialBlocksEqualsRawModel) {
  auto& w = world();
  fs::create_directories(w.dir.path / "blocks-setup");
  testing::TinySetup tiny(w.dir.path / "blocks-setup");
  const auto params = tiny.insecure_blocked_params(w.dir.path / "params-blocks.json", 4);
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", params.string(), kInsecure, "--db",
                        (w.dir.path / "blocks.db").string(), "--tokens", w.tokens.string()},
                       w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  ServiceClient sc(server.url(), "alice-token-0123456789");
  const auto card = sc.model_card();
  ASSERT_TRUE(card.contains("blocks")) << card.dump();
  EXPECT_EQ(card["blocks"]["blocks"], 4);
  EXPECT_EQ(card["slots_per_batch"], 64);
  auto r = w.keygen_and_screen(card, "blocks-keys", server.url());
  ASSERT_EQ(r.status, 0) << r.output << server.log();
  auto j = parse_output(r);
  w.expect_equal_to_raw(j["cells"], 12);
  EXPECT_EQ(sc.status(j["job_id"])["info"]["circuit_privacy"], true);
  // keygen made the block sum's keys: one row rotation and the row swap.
  const auto info = nlohmann::json::parse(read_file(w.dir.path / "blocks-keys" / "keys.json"));
  EXPECT_EQ(info["galois_keys"], 2) << info.dump();
  EXPECT_EQ(info["blocks"]["blocks"], 4);
  // Keys made without the card's blocks section (the unblocked parameters) do not fit this server.
  auto plain_keys = w.make_keys("blocks-plain-keys", w.params);
  r = w.cli({"screen", "--server", server.url(), "--token", "alice-token-0123456789", "--keys", plain_keys.string(),
             "--json", "--timeout", "120", kInsecure, paths_of(w.cells)[0]},
            120);
  EXPECT_NE(r.status, 0) << r.output;
}

// The service's check of a throughput request's packing: a request made with other spatial blocks
// than the server's parameters (or none) is refused with a message naming the blocks, before any
// ciphertext is read; batches follow one block's slots.
TEST(WireBlocks, RequestsPackedWithOtherBlocksAreRefused) {
  nn::BfvSettings s;
  s.n = 256;
  s.q_bits = {50, 50, 50};
  s.plain_primes = {7681};
  s.insecure_for_tests = true;
  s.blocks = 4;  // 2 per slot row: 64 cells per batch
  wire::ContainerHeader h;
  h.params_id = wire::settings_id(s);
  h.cells = 100;
  auto meta = [&](const nlohmann::json& blocks) {
    nlohmann::json m{{"layout", wire::kLayout}, {"batches", {64, 36}}};
    if (!blocks.is_null()) m["blocks"] = blocks;
    h.meta = m.dump();
  };
  meta(4);
  EXPECT_EQ(wire::check_batches(h, 2 * 1 * 10, s, 10, "request"), (std::vector<std::size_t>{64, 36}));
  for (const nlohmann::json& other : {nlohmann::json(), nlohmann::json(2), nlohmann::json("4"), nlohmann::json(-1)}) {
    meta(other);
    try {
      wire::check_batches(h, 2 * 1 * 10, s, 10, "request");
      ADD_FAILURE() << "accepted blocks " << other.dump();
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("spatial block"), std::string::npos) << e.what();
    }
  }
}

// A throw-away self-signed certificate for 127.0.0.1 made with the openssl CLI (a package of
// leukocrypt.sh): <name>.pem and <name>.key (0600) in dir.
void make_certificate(const fs::path& dir, const std::string& name) {
  auto r = testing::run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                         (dir / (name + ".key")).string(), "-out", (dir / (name + ".pem")).string()},
                        dir, 60);
  ASSERT_EQ(r.status, 0) << r.output;
  ::chmod((dir / (name + ".key")).c_str(), 0600);
}

// HTTPS end to end: the server's certificate is checked against --ca-file (an unknown CA or none
// at all is refused with one clear line), the token comes from a 0600 --token-file, and the
// results are still exactly the raw model's. A world-readable key or token file is refused.
TEST(ClientE2E, HttpsWithCertificateCheckingAndTokenFile) {
  auto& w = world();
  make_certificate(w.dir.path, "server");
  make_certificate(w.dir.path, "stranger");
  const auto cert = (w.dir.path / "server.pem").string(), key = (w.dir.path / "server.key").string();
  std::vector<std::string> args{kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure,
                                "--db", (w.dir.path / "tls.db").string(), "--tokens", w.tokens.string(),
                                "--tls-cert", cert, "--tls-key", key};
  ::chmod(key.c_str(), 0644);
  {
    ServerProcess refused(args, w.dir.path);
    EXPECT_EQ(refused.port(), 0);
    EXPECT_NE(refused.log().find("chmod 600"), std::string::npos) << refused.log();
  }
  ::chmod(key.c_str(), 0600);
  ServerProcess server(args, w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_NE(server.log().find("listening on https://"), std::string::npos) << server.log();
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port());
  ClientOptions trusted;
  trusted.ca_file = cert;
  ServiceClient sc(url, "alice-token-0123456789", trusted);
  auto card_path = w.dir.path / "tls-card.json";
  write_file_atomic(card_path, sc.model_card().dump());
  auto keys = w.dir.path / "tls-keys";
  auto r = w.cli({"keygen", "--params", card_path.string(), "--out", keys.string(), kInsecure});
  ASSERT_EQ(r.status, 0) << r.output;
  auto token_file = w.dir.path / "alice.token";
  write_file_atomic(token_file, "alice-token-0123456789\n", 0600);
  auto screen = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"screen", "--server", url, "--token-file", token_file.string(), "--keys",
                               keys.string(), "--json", "--timeout", "120", kInsecure};
    a.insert(a.end(), extra.begin(), extra.end());
    for (std::size_t i = 0; i < 4; ++i) a.push_back(w.cells[i].string());
    return w.cli(a, 120, true);
  };
  r = screen({"--ca-file", cert});
  ASSERT_EQ(r.status, 0) << r.output << r.errors << server.log();
  auto cells = parse_output(r)["cells"];
  ASSERT_EQ(cells.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(cells[i]["exact_logits"][0], w.raw_exact[2 * i]);
    EXPECT_EQ(cells[i]["exact_logits"][1], w.raw_exact[2 * i + 1]);
  }
  for (const auto& extra : {std::vector<std::string>{}, std::vector<std::string>{"--ca-file",
                                                                                  (w.dir.path / "stranger.pem").string()}}) {
    r = screen(extra);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.errors.find("is not trusted"), std::string::npos) << r.errors;
  }
  ::chmod(token_file.c_str(), 0644);
  r = screen({"--ca-file", cert});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.errors.find("chmod 600"), std::string::npos) << r.errors;
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
    keygen(wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true), paths, card, false);
    kh = std::make_unique<KeyHolder>(paths, /*allow_insecure_for_tests=*/true);
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
  std::vector<std::string> args{kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure, "--db", db,
                                "--tokens", w.tokens.string(), "--workers", "1"};
  auto server = std::make_unique<ServerProcess>(args, w.dir.path);
  ASSERT_GT(server->port(), 0) << server->log();
  InProcessClient alice(server->url(), "alice-token-0123456789", w.dir.path / "kill-keys");
  std::vector<std::string> jobs;
  // A tiny-model job takes milliseconds, so the job seen "running" can finish between the status
  // reply and the kill; then nothing was running and the restart has nothing to re-queue. Such an
  // attempt proves only that nothing was lost: try again with fresh jobs (the server is restarted
  // on the same database each time), up to 5 times, until a kill lands on a running job.
  bool requeued = false;
  for (int attempt = 0; attempt < 5 && !requeued; ++attempt) {
    ServiceClient sc(server->url(), "alice-token-0123456789");
    // Several jobs so one is surely running (one worker) when the server is killed.
    std::vector<std::string> fresh;
    for (std::size_t k = 0; k < 4; ++k) {
      fresh.push_back(sc.submit(alice.request(rotated(w.cells, jobs.size(), 12))));
      jobs.push_back(fresh.back());
    }
    bool killed_running = false;
    for (int i = 0; i < 3000 && !killed_running; ++i) {  // <= 30 s
      for (const auto& id : fresh) {
        if (sc.status(id).value("status", "") == "running") {
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
    requeued = server->log().find("re-queued") != std::string::npos;
  }
  EXPECT_TRUE(requeued) << "no kill in 5 attempts found a running job to re-queue\n" << server->log();
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

// The request with every ciphertext's c0 rows set to zero (c1 kept), saved unseeded.
std::string zero_c0_rows(const std::string& request, const nlohmann::json& card) {
  auto settings = wire::settings_from_json(card, "card", /*allow_insecure_for_tests=*/true);
  std::vector<bfv::ContextPtr> contexts;
  for (const auto& p : settings.params()) contexts.push_back(bfv::Context::create(p));
  auto c = wire::parse(request, "request");
  wire::Container out;
  static_cast<wire::ContainerHeader&>(out) = c;
  for (std::size_t i = 0; i < c.blobs.size(); ++i) {
    auto ct = bfv::load_ciphertext(*contexts[i % contexts.size()], c.blobs[i]);
    std::fill(ct.poly(0), ct.poly(0) + ct.level() * ct.n(), 0);
    out.blobs.push_back(bfv::save(ct));
  }
  return wire::serialize(out);
}

TEST(ClientE2E, SecondServerOnTheSameDatabaseIsRefused) {
  auto& w = world();
  auto db = (w.dir.path / "two.db").string();
  std::vector<std::string> args{kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure, "--db",
                                db, "--tokens", w.tokens.string()};
  ServerProcess first(args, w.dir.path);
  ASSERT_GT(first.port(), 0) << first.log();
  auto second = w.cli({"serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure, "--db", db, "--tokens",
                       w.tokens.string(), "--port", "0"},
                      60);
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find("is in use by another process"), std::string::npos) << second.output;
  ServiceClient sc(first.url(), "alice-token-0123456789");
  EXPECT_EQ(sc.model_card().value("model_id", "").empty(), false);  // the first still serves
}

// The bad-input table of docs/RELIABILITY.md: every class of bad input against a real server with
// the real model, each row's expected and observed status, and /healthz after every row. With
// LEUKOCRYPT_BAD_INPUT_TABLE=FILE the observed table is written there (markdown).
struct BadInputTable {
  std::vector<std::string> rows;
  int failures = 0;
  void add(const std::string& cls, const std::string& expected, int status, const std::string& code, bool serving) {
    rows.push_back("| " + cls + " | " + expected + " | " + std::to_string(status) + " `" + code + "` | " +
                   (serving ? "yes" : "**no**") + " |");
  }
  std::string markdown() const {
    std::string t = "| bad input | expected | observed | still serving |\n|---|---|---|---|\n";
    for (const auto& r : rows) t += r + "\n";
    return t;
  }
};

TEST(ClientE2E, BadInputGetsJsonErrorsAndServerKeepsServing) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure, "--db",
                        (w.dir.path / "bad.db").string(), "--tokens", w.tokens.string(), "--max-request-mb", "64",
                        "--http-threads", "4", "--read-timeout-s", "2", "--request-timeout-s", "4"},
                       w.dir.path);
  ASSERT_GT(server.port(), 0) << server.log();
  InProcessClient alice(server.url(), "alice-token-0123456789", w.dir.path / "bad-keys-alice");
  auto good = alice.request(rotated(w.cells, 0, 2));
  httplib::Client http("127.0.0.1", server.port());
  http.set_read_timeout(60);
  http.set_write_timeout(60);
  const httplib::Headers alice_h{{"Authorization", "Bearer alice-token-0123456789"}};
  const httplib::Headers bob_h{{"Authorization", "Bearer bob-token-0123456789ab"}};
  BadInputTable table;
  auto serving = [&] {
    auto h = http.Get("/healthz");
    return h && h->status == 200;
  };
  auto expect_error = [&](const std::string& cls, const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r) << cls;
    EXPECT_EQ(r->status, status) << cls << ": " << r->body;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r->body;
    EXPECT_EQ(j["error"]["status"], status);
    EXPECT_EQ(j["error"]["code"], code) << r->body;
    const bool ok = serving();
    EXPECT_TRUE(ok) << cls;
    table.add(cls, std::to_string(status) + " `" + code + "`", r->status, j["error"].value("code", ""), ok);
  };
  // Accepted for the full check (202, validating), then failed before it is queued: 422 from
  // GET .../result with the job's error code; nothing runs.
  auto expect_refused = [&](const std::string& cls, const httplib::Result& r, const std::string& code) {
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    std::string id = nlohmann::json::parse(r->body)["job_id"];
    nlohmann::json st;
    for (int i = 0; i < 600; ++i) {  // <= 60 s
      st = alice.sc->status(id);
      if (st["status"] == "failed" || st["status"] == "done") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(st["status"], "failed") << st.dump();
    EXPECT_EQ(st.value("error_code", ""), code) << st.dump();
    expect_error(cls + " (202, then the job fails; its result answers)",
                 http.Get(("/v1/jobs/" + id + "/result").c_str(), alice_h), 422, code);
  };
  const char* bin = "application/octet-stream";
  expect_error("truncated request", http.Post("/v1/jobs", alice_h, good.substr(0, good.size() / 2), bin), 400,
               "invalid_format");
  expect_error("garbage request", http.Post("/v1/jobs", alice_h, std::string(5000, '\x42'), bin), 400,
               "invalid_format");
  // A coefficient out of range inside a ciphertext: caught by the HE loader.
  auto bad = good;
  auto view = wire::parse(bad, "t");
  std::size_t off = static_cast<std::size_t>(view.blobs[0].data() - bad.data()) + view.blobs[0].size() / 2;
  std::fill(bad.begin() + off, bad.begin() + off + 16, '\xff');
  expect_refused("coefficient >= q inside a ciphertext", http.Post("/v1/jobs", alice_h, bad, bin), "invalid_request");
  // Ciphertexts whose c0 rows are all zero (a few bytes each on the wire, a full batch of work):
  // well-formed, but not fresh encryptions.
  expect_refused("all-zero ciphertext rows", http.Post("/v1/jobs", alice_h, zero_c0_rows(good, alice.card), bin),
                 "refused_input");
  // A request whose parameter id is not its key's.
  {
    auto c = wire::parse(good, "request");
    wire::Container other;
    static_cast<wire::ContainerHeader&>(other) = c;
    other.params_id ^= 1;
    for (auto b : c.blobs) other.blobs.emplace_back(b);
    expect_error("wrong parameters (request)", http.Post("/v1/jobs", alice_h, wire::serialize(other), bin), 400,
                 "invalid_format");
  }
  // Bob has no key with Alice's key id (wrong key id for him).
  expect_error("wrong key (another client's key id)", http.Post("/v1/jobs", bob_h, good, bin), 404, "key_not_found");
  // Keys for other parameters are refused at registration.
  auto secure_keys = w.make_keys("bad-secure", w.secure_params);
  expect_error("wrong parameters (keys for another parameter set)",
               http.Post("/v1/keys", bob_h, read_file(secure_keys / "eval.key"), bin), 400, "invalid_format");
  // The secret key is never accepted.
  expect_error("secret key uploaded as keys",
               http.Post("/v1/keys", alice_h, read_file(w.dir.path / "bad-keys-alice" / "secret.key"), bin), 400,
               "secret_key_refused");
  // Oversized (limit 64 MiB).
  expect_error("oversized request (65 MiB, limit 64)", http.Post("/v1/jobs", alice_h, std::string(65u << 20, 'x'), bin),
               413, "payload_too_large");
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
  expect_error("no token", http.Get("/v1/model"), 401, "unauthorized");
  expect_error("wrong token", http.Get("/v1/model", {{"Authorization", "Bearer not-a-token-of-this-server"}}), 401,
               "unauthorized");
  expect_error("expired token", http.Get("/v1/model", {{"Authorization", "Bearer carol-token-expired-0123"}}), 401,
               "token_expired");
  {
    // A key upload announcing 1 GiB with a wrong token: answered from the headers, body never read.
    testing::RawConnection raw(server.port());
    raw.send("POST /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer not-a-token-of-this-server\r\n"
             "Content-Length: 1073741824\r\n\r\n");
    const int st = testing::raw_status(raw.receive(10000));
    EXPECT_EQ(st, 401);
    const bool ok = serving();
    table.add("wrong token on a 1 GiB key upload (no body sent)", "401 `unauthorized` from the headers", st,
              "unauthorized", ok);
  }
  // Another client's job id.
  auto id = alice.sc->submit(good);
  expect_error("foreign job id (status)", http.Get(("/v1/jobs/" + id).c_str(), bob_h), 404, "job_not_found");
  expect_error("foreign job id (result)", http.Get(("/v1/jobs/" + id + "/result").c_str(), bob_h), 404,
               "job_not_found");
  expect_error("foreign job id (delete)", http.Delete(("/v1/jobs/" + id).c_str(), bob_h), 404, "job_not_found");
  // Slowloris: as many connections as HTTP threads, each stopping half-way and going silent.
  {
    std::vector<std::unique_ptr<testing::RawConnection>> slow;
    for (int i = 0; i < 4; ++i) {
      slow.push_back(std::make_unique<testing::RawConnection>(server.port()));
      slow.back()->send(i % 2 ? "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz"
                              : "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                                "alice-token-0123456789\r\nContent-Length: 100000\r\n\r\nLCX1");
    }
    std::vector<int> statuses;
    for (auto& c : slow) statuses.push_back(testing::raw_status(c->receive(15000)));
    for (int st : statuses) EXPECT_EQ(st, 400);
    const bool ok = serving();
    EXPECT_TRUE(ok);
    std::string observed;
    for (int st : statuses) observed += (observed.empty() ? "" : ", ") + std::to_string(st);
    table.rows.push_back("| slowloris (4 connections = HTTP threads, silent mid-headers / mid-body) | 400 each after "
                         "`--read-timeout-s` (2 s), connection closed | " + observed + " | " + (ok ? "yes" : "**no**") +
                         " |");
  }
  // Slowloris that never trips the read timeout: one byte per second into the request head; the
  // whole-request deadline (--request-timeout-s 4) answers 408 and closes it.
  {
    testing::RawConnection raw(server.port());
    raw.send("GET /v1/model HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    std::string reply;
    for (int i = 0; i < 12 && !raw.closed_by_server() && reply.empty(); ++i) {
      raw.send("a");
      reply = raw.receive(1000);
    }
    const int st = testing::raw_status(reply);
    EXPECT_EQ(st, 408) << reply;
    const bool ok = serving();
    EXPECT_TRUE(ok);
    table.add("slowloris trickle (1 byte/s into the headers, under the 2 s read timeout)",
              "408 `request_timeout` after `--request-timeout-s` (4 s), connection closed", st,
              st == 408 ? "request_timeout" : "", ok);
  }
  // Still serving: Alice's job completes correctly.
  alice.sc->wait(id, std::chrono::seconds(60));
  expect_cells_equal_raw(w, alice.kh->decrypt(alice.sc->result(id)), 0);
  std::cout << table.markdown();
  if (const char* out = std::getenv("LEUKOCRYPT_BAD_INPUT_TABLE")) write_file_atomic(out, table.markdown());
}

TEST(ClientE2E, EightConcurrentClientsAllCorrect) {
  auto& w = world();
  ServerProcess server({kCli, "serve", "--model", w.model.string(), "--params", w.params.string(), kInsecure, "--db",
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

// `screen`/`encrypt --data` take the MNIST idx folder as eval and params do: digits as 1 x 28 x 28
// cells named as eval names them, split test (the default) or train; a model of another size is
// refused with the sizes.
TEST(DatasetCells, MnistFolderGivesDigitsAsCells) {
  const fs::path mnist = fs::path(LEUKOCRYPT_DATA_DIR) / "mnist";
  const auto test = load_dataset_cells(mnist, "", 3, 28);
  ASSERT_EQ(test.size(), 3u);
  EXPECT_EQ(test[0].name, "t10k[0]");
  EXPECT_EQ(test[2].pixels.size(), 784u);
  const auto train = load_dataset_cells(mnist, "train", 2, 28);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[1].name, "train[1]");
  EXPECT_NE(train[0].pixels, test[0].pixels);
  EXPECT_THROW(load_dataset_cells(mnist, "test", 1, 32), InvalidArgument);
  EXPECT_THROW(load_dataset_cells(mnist, "C", 1, 28), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::client
