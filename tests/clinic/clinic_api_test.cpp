// The clinic's JSON API in process (the page's calls, with its cookie and CSRF token) against a
// real `leukocrypt serve` child on 127.0.0.1 running the tiny test network with INSECURE N = 256
// parameters, and a fake provider for the error paths. Real C-NMC cells; the labels the clinic
// stores must equal the raw integer model's.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <csignal>

#include "client/keyholder.h"
#include "clinic/clinic_error.h"
#include "clinic/clinic_server.h"
#include "clinic/provider_keys.h"
#include "clinic/sha256.h"
#include "clinic_test_helpers.h"
#include "nn/backend.h"
#include "process.h"
#include "tiny_setup.h"

namespace leukocrypt::clinic {
namespace {

using namespace clinic::testing;
const std::string kCli = LEUKOCRYPT_CLI;
const std::string kAlice = "alice-token-0123456789", kBob = "bob-token-0123456789ab";

// One real provider for every test, and the raw model's labels of the cells.
struct World {
  TempDir dir{"clinic-api"};
  leukocrypt::testing::TinySetup tiny{dir.path};
  std::unique_ptr<leukocrypt::testing::ServerProcess> server;
  std::vector<fs::path> cells = real_cells(3);
  std::vector<int> raw_label;

  World() {
    write_file_atomic(dir.path / "tokens.txt", "alice " + kAlice + "\nbob " + kBob + "\n", 0600);
    server = std::make_unique<leukocrypt::testing::ServerProcess>(
        std::vector<std::string>{kCli, "serve", "--model", tiny.model.string(), "--params", tiny.params.string(),
                                 "--insecure-for-tests", "--db", (dir.path / "jobs.db").string(), "--tokens", (dir.path / "tokens.txt").string()},
        dir.path);
    auto inputs = client::load_images(cells, 16);
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
    auto raw = nn::make_raw_backend()->run(tiny.plan, ptrs);
    for (std::size_t i = 0; i < inputs.size(); ++i) raw_label.push_back(raw.predicted(i));
  }
};

World& world() {
  static World w;
  std::signal(SIGPIPE, SIG_IGN);
  return w;
}

// A clinic on a free port with its own data directory.
struct Clinic {
  fs::path data;
  std::unique_ptr<ClinicServer> server;
  int port = 0;
  explicit Clinic(const fs::path& d, bool allow_insecure_for_tests = true) : data(d) {
    ClinicOptions o;
    o.port = 0;
    o.data_dir = d;
    o.allow_insecure_for_tests = allow_insecure_for_tests;  // the tiny provider's N = 256 parameters
    server = std::make_unique<ClinicServer>(o);
    port = server->start();
  }
  ApiClient api() const { return ApiClient(*server, port); }
};

// Uploads the files (as a C-NMC folder: <class>/<name>) and returns the kept cells' ids.
std::vector<std::string> upload_cells(ApiClient& api, const std::vector<fs::path>& files, int size) {
  std::vector<std::string> ids;
  for (const auto& f : files) {
    auto j = api.upload("cnmc/" + f.parent_path().filename().string() + "/" + f.filename().string(), read_file(f), size, 201);
    EXPECT_TRUE(j.value("ok", false)) << j.dump();
    EXPECT_EQ(j.value("folder_class", ""), f.parent_path().filename().string());
    EXPECT_EQ(j.value("thumb", "").rfind("data:image/png;base64,", 0), 0u);
    ids.push_back(j.value("id", ""));
  }
  return ids;
}

// The provider's real card, for the fake provider.
nlohmann::json real_card() {
  auto& w = world();
  httplib::Client prov("127.0.0.1", w.server->port());
  auto r = prov.Get("/v1/model", {{"Authorization", "Bearer " + kAlice}});
  return nlohmann::json::parse(r->body);
}

// Uploads the cells, screens them with the provider and waits for the screening to end.
nlohmann::json screen(ApiClient& api, const nlohmann::json& provider, const std::vector<fs::path>& files,
                      const std::string& patient) {
  auto ids = upload_cells(api, files, 16);
  auto sid = api.post("/api/screenings", {{"provider_id", provider["id"]}, {"cells", ids}, {"patient", patient}}, 202)["id"];
  return api.wait(sid);
}

// The fingerprint shown for eval.key is SHA-256 as `sha256sum` prints it (FIPS 180-2 examples),
// whether the bytes come whole or in the pieces of an upload.
TEST(ClinicSha256, KnownAnswersAndPiecesEqualWhole) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string big((3u << 20) + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 9));
  Sha256 pieces;
  for (std::size_t at = 0; at < big.size(); at += 1u << 20) pieces.update(big.data() + at, std::min<std::size_t>(1u << 20, big.size() - at));
  EXPECT_EQ(pieces.hex(), sha256_hex(big));
}

TEST(ClinicApi, RefusesANonLoopbackAddressUnlessAllowed) {
  TempDir d("clinic-remote");
  ClinicOptions o;
  o.data_dir = d.path;
  o.host = "0.0.0.0";
  EXPECT_THROW(ClinicServer{o}, InvalidArgument);
  o.host = "192.168.1.10";
  EXPECT_THROW(ClinicServer{o}, InvalidArgument);
  o.allow_remote = true;
  EXPECT_NO_THROW(ClinicServer{o});
  EXPECT_TRUE(AccessGuard::is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(AccessGuard::is_loopback_host("localhost"));
  EXPECT_TRUE(AccessGuard::is_loopback_host("::1"));
  EXPECT_FALSE(AccessGuard::is_loopback_host("10.0.0.1"));
}

TEST(ClinicApi, TokenCookieCsrfAndHostChecks) {
  TempDir d("clinic-guard");
  Clinic c(d.path);
  httplib::Client http("127.0.0.1", c.port);
  // The printed address carries the token; the first visit trades it for a cookie.
  const auto url = c.server->url();
  ASSERT_NE(url.find("/?token="), std::string::npos);
  const auto token = url.substr(url.find("token=") + 6);
  auto r = http.Get(("/?token=" + token).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), "/");
  const auto set_cookie = r->get_header_value("Set-Cookie");
  EXPECT_NE(set_cookie.find(c.server->guard().cookie_name() + "=" + token), std::string::npos);
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);
  // A wrong token gets a page that says so; no cookie.
  r = http.Get("/?token=0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("Wrong access token"), std::string::npos);
  EXPECT_FALSE(r->has_header("Set-Cookie"));
  // Without the cookie: neither the page nor the API.
  r = http.Get("/");
  EXPECT_EQ(r->status, 403);
  r = http.Get("/api/session");
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("no_session"), std::string::npos);
  // With it: the page, its assets, the session (CSRF token).
  const httplib::Headers cookie{{"Cookie", c.server->guard().cookie_name() + "=" + token}};
  r = http.Get("/", cookie);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<script src=\"/app.js\"></script>"), std::string::npos);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  for (const char* asset : {"/app.js", "/style.css"}) EXPECT_EQ(http.Get(asset)->status, 200) << asset;
  r = http.Get("/api/session", cookie);
  ASSERT_EQ(r->status, 200);
  auto session = nlohmann::json::parse(r->body);
  EXPECT_EQ(session["csrf"], c.server->guard().csrf());
  EXPECT_NE(session["packing"].get<std::string>().find("latency"), std::string::npos) << session.dump();
  // State changes need the CSRF header, and an Origin (when sent) of this clinic.
  auto with = [&](httplib::Headers h) {
    h.insert(cookie.begin(), cookie.end());
    return h;
  };
  r = http.Delete("/api/cells", cookie);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("\"csrf\""), std::string::npos);
  r = http.Delete("/api/cells", with({{"X-CSRF-Token", "wrong"}}));
  EXPECT_EQ(r->status, 403);
  r = http.Delete("/api/cells", with({{"X-CSRF-Token", c.server->guard().csrf()}, {"Origin", "http://evil.example"}}));
  EXPECT_EQ(r->status, 403);
  r = http.Delete("/api/cells", with({{"X-CSRF-Token", c.server->guard().csrf()},
                                      {"Origin", "http://127.0.0.1:" + std::to_string(c.port)}}));
  EXPECT_EQ(r->status, 200) << r->body;
  // Another Host (DNS rebinding) is refused even with the cookie.
  r = http.Get("/api/session", with({{"Host", "evil.example:" + std::to_string(c.port)}}));
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("bad_host"), std::string::npos);
}

TEST(ClinicApi, ProvidersGetTheirOwnKeysRegisteredAndTheSecretStaysHere) {
  auto& w = world();
  ASSERT_GT(w.server->port(), 0) << w.server->log();
  TempDir d("clinic-keys");
  Clinic c(d.path);
  auto api = c.api();
  auto a = api.post("/api/providers", {{"name", "Lab A"}, {"url", w.server->url()}, {"token", kAlice}}, 201);
  auto b = api.post("/api/providers", {{"name", "Lab B"}, {"url", w.server->url()}, {"token", kBob}}, 201);
  EXPECT_TRUE(a["registered"]);
  EXPECT_TRUE(b["registered"]);
  EXPECT_NE(a["key_id"], b["key_id"]);
  EXPECT_NE(a["key_fingerprint"], b["key_fingerprint"]);
  EXPECT_EQ(a["image_size"], 16);
  for (const auto& p : {a, b}) {
    const auto keys = d.path / "keys" / p["id"].get<std::string>();
    EXPECT_EQ(p["key_fingerprint"], sha256_hex(read_file(keys / "eval.key")));
    struct stat st {};
    ASSERT_EQ(::stat((keys / "secret.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // The page never sees the API token or key material.
    const auto text = p.dump();
    EXPECT_EQ(text.find(kAlice), std::string::npos);
    EXPECT_EQ(text.find(kBob), std::string::npos);
    EXPECT_EQ(text.find("secret"), std::string::npos);
    EXPECT_TRUE(p["has_token"]);
  }
  auto list = api.get("/api/providers");
  ASSERT_EQ(list["providers"].size(), 2u);
  EXPECT_EQ(list.dump().find(kAlice), std::string::npos);
  // The provider knows each key only under its own client (kept apart).
  httplib::Client prov("127.0.0.1", w.server->port());
  auto r = prov.Get(("/v1/keys/" + a["key_id"].get<std::string>()).c_str(), {{"Authorization", "Bearer " + kAlice}});
  EXPECT_EQ(r->status, 200);
  r = prov.Get(("/v1/keys/" + a["key_id"].get<std::string>()).c_str(), {{"Authorization", "Bearer " + kBob}});
  EXPECT_EQ(r->status, 404);
}

TEST(ClinicApi, ScreeningEqualsRawModelIsKeptAndReopens) {
  auto& w = world();
  ASSERT_GT(w.server->port(), 0) << w.server->log();
  TempDir d("clinic-screen");
  std::string sid;
  {
    Clinic c(d.path);
    auto api = c.api();
    auto p = api.post("/api/providers", {{"name", "Lab A"}, {"url", w.server->url()}, {"token", kAlice}}, 201);
    auto ids = upload_cells(api, w.cells, 16);
    sid = api.post("/api/screenings", {{"provider_id", p["id"]}, {"cells", ids}, {"patient", "P-001"}}, 202)["id"];
    auto s = api.wait(sid);
    ASSERT_EQ(s["status"], "done") << s.dump();
    ASSERT_EQ(s["cells"].size(), w.cells.size());
    for (std::size_t i = 0; i < w.cells.size(); ++i) {
      EXPECT_EQ(s["cells"][i]["label"], w.raw_label[i]) << i;
      EXPECT_EQ(s["cells"][i]["name"], "cnmc/" + w.cells[i].parent_path().filename().string() + "/" +
                                           w.cells[i].filename().string());
      EXPECT_GT(s["cells"][i]["probability"].get<double>(), 0.5);
    }
    std::size_t summed = 0;
    for (auto& [cls, v] : s["summary"]["classes"].items()) summed += v["cells"].get<std::size_t>();
    EXPECT_EQ(summed, w.cells.size());
    EXPECT_EQ(s["packing"], "throughput");
    // The provider saw anonymous names, never the file names.
    const auto job = s["job_id"].get<std::string>();
    httplib::Client prov("127.0.0.1", w.server->port());
    auto st = prov.Get(("/v1/jobs/" + job).c_str(), {{"Authorization", "Bearer " + kAlice}});
    EXPECT_EQ(st->status, 200);
    // Exports.
    auto csv = api.http().Get(("/api/screenings/" + sid + "/export.csv").c_str(), api.headers());
    ASSERT_EQ(csv->status, 200);
    EXPECT_EQ(std::count(csv->body.begin(), csv->body.end(), '\n'), long(w.cells.size() + 1));
    EXPECT_EQ(csv->body.rfind("index,cell,folder_class,label,class,probability\n", 0), 0u);
    auto js = api.get("/api/screenings/" + sid + "/export.json");
    EXPECT_EQ(js["cells"].size(), w.cells.size());
    EXPECT_EQ(js.dump().find("base64"), std::string::npos);
  }
  // A new start of the clinic (new token) reopens the screening from SQLite.
  Clinic again(d.path);
  auto api = again.api();
  auto list = api.get("/api/screenings");
  ASSERT_EQ(list["screenings"].size(), 1u);
  EXPECT_EQ(list["screenings"][0]["id"], sid);
  EXPECT_EQ(list["screenings"][0]["patient"], "P-001");
  auto s = api.get("/api/screenings/" + sid);
  ASSERT_EQ(s["status"], "done");
  for (std::size_t i = 0; i < w.cells.size(); ++i) {
    EXPECT_EQ(s["cells"][i]["label"], w.raw_label[i]);
    EXPECT_EQ(s["cells"][i]["thumb"].get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  }
}

// A provider that serves the latency layout (N = 2048): a few cells are packed in it (megabytes,
// not a full batch) and the labels still equal the raw model's.
TEST(ClinicApi, FewCellsArePackedInTheLatencyLayout) {
  auto& w = world();
  const auto params = w.tiny.insecure_latency_params(w.dir.path / "params-latency.json");
  leukocrypt::testing::ServerProcess provider(
      {kCli, "serve", "--model", w.tiny.model.string(), "--params", params.string(), "--insecure-for-tests", "--db",
       (w.dir.path / "jobs-latency.db").string(), "--tokens", (w.dir.path / "tokens.txt").string()},
      w.dir.path);
  ASSERT_GT(provider.port(), 0) << provider.log();
  TempDir d("clinic-latency");
  Clinic c(d.path);
  auto api = c.api();
  auto p = api.post("/api/providers", {{"name", "Lab L"}, {"url", provider.url()}, {"token", kAlice}}, 201);
  // The page shows what the provider serves and what was sent to it once: eval.key with Galois keys.
  EXPECT_NE(std::find(p["layouts"].begin(), p["layouts"].end(), "latency"), p["layouts"].end()) << p.dump();
  EXPECT_GT(p["galois_keys"].get<int>(), 0) << p.dump();
  EXPECT_EQ(p["eval_key_bytes"].get<std::uintmax_t>(),
            fs::file_size(d.path / "keys" / p["id"].get<std::string>() / "eval.key"));
  auto s = screen(api, p, w.cells, "P-002");
  ASSERT_EQ(s["status"], "done") << s.dump() << provider.log();
  EXPECT_EQ(s["packing"], "latency");
  ASSERT_EQ(s["cells"].size(), w.cells.size());
  for (std::size_t i = 0; i < w.cells.size(); ++i) EXPECT_EQ(s["cells"][i]["label"], w.raw_label[i]) << i;
  httplib::Client prov("127.0.0.1", provider.port());
  auto st = prov.Get(("/v1/jobs/" + s["job_id"].get<std::string>()).c_str(), {{"Authorization", "Bearer " + kAlice}});
  ASSERT_EQ(st->status, 200);
  const auto job = nlohmann::json::parse(st->body);
  EXPECT_EQ(job["info"]["layout"], "latency") << job.dump();
  EXPECT_LT(job["request_bytes"].get<double>(), 4e6) << job.dump();  // one ciphertext per prime, not a batch
}

// A CKKS provider (`serve` with `params --scheme ckks`-style parameters, --no-circuit-privacy as CKKS requires; INSECURE
// N = 1024 test parameters): the clinic reads the card's scheme, makes CKKS keys, encrypts, and
// decrypts approximate logits whose argmax equals the float model's for the same real cells.
TEST(ClinicApi, CkksProviderScreensLikeTheFloatModel) {
  auto& w = world();
  auto inputs = client::load_images(w.cells, 16);
  std::vector<const std::uint8_t*> ptrs;
  for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
  const auto params = w.tiny.insecure_ckks_params(w.dir.path / "params-ckks-insecure-test.json", ptrs);
  const auto fl = nn::make_float_backend()->run(w.tiny.plan, ptrs);
  const auto predicted_error = nlohmann::json::parse(read_file(params))["ckks"]["predicted_logit_error"].get<double>();
  for (std::size_t i = 0; i < inputs.size(); ++i) {  // the float margins leave room for CKKS's error
    const double a = fl.logits[i * fl.outputs], b = fl.logits[i * fl.outputs + 1];
    ASSERT_GT(std::fabs(a - b), 2 * predicted_error) << "cell " << i << ": choose a smaller target error";
  }
  leukocrypt::testing::ServerProcess provider(
      {kCli, "serve", "--model", w.tiny.model.string(), "--params", params.string(),
       "--insecure-for-tests", "--no-circuit-privacy", "--db", (w.dir.path / "jobs-ckks.db").string(), "--tokens",
       (w.dir.path / "tokens.txt").string()},
      w.dir.path);
  ASSERT_GT(provider.port(), 0) << provider.log();
  {  // CKKS parameters below 128 bits are refused as BFV's are, without the test flag
    TempDir strict("clinic-ckks-strict");
    Clinic c(strict.path, /*allow_insecure_for_tests=*/false);
    auto api = c.api();
    auto r = api.post("/api/providers", {{"name", "Lab C"}, {"url", provider.url()}, {"token", kAlice}}, 400);
    EXPECT_EQ(r["error"]["code"], "insecure_parameters") << r.dump();
  }
  TempDir d("clinic-ckks");
  Clinic c(d.path);
  auto api = c.api();
  auto p = api.post("/api/providers", {{"name", "Lab C"}, {"url", provider.url()}, {"token", kAlice}}, 201);
  EXPECT_EQ(p["scheme"], "ckks") << p.dump();
  EXPECT_EQ(p["layouts"], nlohmann::json::array({"throughput"})) << p.dump();
  EXPECT_EQ(p.value("galois_keys", -1), 0) << p.dump();
  const auto keys = nlohmann::json::parse(read_file(d.path / "keys" / p["id"].get<std::string>() / "keys.json"));
  EXPECT_NE(keys.dump().find("\"ckks\""), std::string::npos) << keys.dump();
  EXPECT_EQ(p["eval_key_bytes"].get<std::uintmax_t>(),
            fs::file_size(d.path / "keys" / p["id"].get<std::string>() / "eval.key"));
  auto s = screen(api, p, w.cells, "P-003");
  ASSERT_EQ(s["status"], "done") << s.dump() << provider.log();
  EXPECT_EQ(s["packing"], "throughput");  // CKKS serves the throughput layout only, whatever the cell count
  ASSERT_EQ(s["cells"].size(), w.cells.size());
  for (std::size_t i = 0; i < w.cells.size(); ++i) {
    EXPECT_EQ(s["cells"][i]["label"], fl.predicted(i)) << i;
    EXPECT_GT(s["cells"][i]["probability"].get<double>(), 0.5) << i;
  }
  httplib::Client prov("127.0.0.1", provider.port());
  auto st = prov.Get(("/v1/jobs/" + s["job_id"].get<std::string>()).c_str(), {{"Authorization", "Bearer " + kAlice}});
  ASSERT_EQ(st->status, 200);
  EXPECT_EQ(nlohmann::json::parse(st->body)["info"]["scheme"], "ckks") << st->body;

  // A provider that moves from BFV to CKKS: screening says the card changed, new keys are CKKS keys.
  auto ckks_card = nlohmann::json::parse(prov.Get("/v1/model", {{"Authorization", "Bearer " + kAlice}})->body);
  FakeProvider fake(real_card());
  auto f = api.post("/api/providers", {{"name", "Moving lab"}, {"url", fake.url()}, {"token", kAlice}}, 201);
  EXPECT_EQ(f["scheme"], "bfv") << f.dump();
  fake.set_card(ckks_card);
  auto moved = screen(api, f, {w.cells[0]}, "P-004");
  EXPECT_EQ(moved["error"]["code"], "model_card_changed") << moved.dump();
  f = api.post("/api/providers/" + f["id"].get<std::string>() + "/keys", nlohmann::json::object(), 200);
  EXPECT_EQ(f["scheme"], "ckks") << f.dump();
  const auto renewed = nlohmann::json::parse(read_file(d.path / "keys" / f["id"].get<std::string>() / "keys.json"));
  EXPECT_NE(renewed.dump().find("\"ckks\""), std::string::npos) << renewed.dump();
}

// A provider whose card has parameters below 128-bit security, and a clinic started without
// --insecure-for-tests: a clear message, no keys made.
TEST(ClinicApi, InsecureProviderParametersNeedTheTestFlag) {
  auto& w = world();
  ASSERT_GT(w.server->port(), 0) << w.server->log();
  TempDir d("clinic-insecure");
  Clinic c(d.path, /*allow_insecure_for_tests=*/false);
  auto api = c.api();
  auto r = api.post("/api/providers", {{"name", "Tiny"}, {"url", w.server->url()}, {"token", kAlice}}, 400);
  EXPECT_EQ(r["error"]["code"], "insecure_parameters") << r.dump();
  const auto msg = r["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find("below 128-bit security"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--insecure-for-tests"), std::string::npos) << msg;
  EXPECT_TRUE(api.get("/api/providers")["providers"].empty());
}

TEST(ClinicApi, BadFilesAreRejectedWithTheReason) {
  auto& w = world();
  TempDir d("clinic-files");
  Clinic c(d.path);
  auto api = c.api();
  auto good = read_file(w.cells[0]);
  auto j = api.upload("notes.txt", "hello", 32, 200);
  EXPECT_FALSE(j["ok"]);
  EXPECT_NE(j["reason"].get<std::string>().find("not a BMP, PNG or JPEG"), std::string::npos);
  j = api.upload("cut.png", good.substr(0, good.size() / 2), 32, 200);
  EXPECT_FALSE(j["ok"]);
  EXPECT_NE(j["reason"].get<std::string>().find("cut.png"), std::string::npos) << j.dump();
  j = api.upload("empty.bmp", "", 32, 200);
  EXPECT_FALSE(j["ok"]);
  // C-NMC layout: the name's class must agree with its folder.
  j = api.upload("p/hem/" + w.cells[0].filename().string(), good, 32, 200);  // an _all cell in hem/
  EXPECT_FALSE(j["ok"]);
  EXPECT_NE(j["reason"].get<std::string>().find("folder"), std::string::npos);
  // A flat folder is fine (no class known); the thumbnail is S x S.
  j = api.upload("flat/" + w.cells[0].filename().string(), good, 32, 201);
  EXPECT_TRUE(j["ok"]);
  EXPECT_EQ(j["folder_class"], "");
  EXPECT_EQ(j["size"], 32);
  // Missing or bad parameters, unknown cells, a cell prepared for another model size.
  EXPECT_EQ(api.http().Post("/api/cells?name=x.png", api.headers(), good, "application/octet-stream")->status, 400);
  auto r = api.post("/api/screenings", {{"provider_id", "abc"}, {"cells", {j["id"]}}}, 404);
  EXPECT_EQ(r["error"]["code"], "provider_not_found");
  r = api.post("/api/screenings", nlohmann::json::array(), 400);
  EXPECT_EQ(r["error"]["code"], "invalid_json");
}

TEST(ClinicApi, ClearErrorsUnreachableWrongTokenCardChangedJobFailed) {
  auto& w = world();
  ASSERT_GT(w.server->port(), 0) << w.server->log();
  TempDir d("clinic-errors");
  Clinic c(d.path);
  auto api = c.api();
  // Unreachable: a port nobody listens on.
  const int closed = closed_port();
  auto r = api.post("/api/providers", {{"name", "Gone"}, {"url", "http://127.0.0.1:" + std::to_string(closed)}, {"token", kAlice}}, 502);
  EXPECT_EQ(r["error"]["code"], "provider_unreachable");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("cannot reach the provider"), std::string::npos);
  // Wrong provider token.
  r = api.post("/api/providers", {{"name", "Lab"}, {"url", w.server->url()}, {"token", "wrong-token-0123456789"}}, 502);
  EXPECT_EQ(r["error"]["code"], "provider_token_rejected");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("refused the API token"), std::string::npos);
  r = api.post("/api/providers", {{"name", "Lab"}, {"url", "ftp://x"}}, 400);
  EXPECT_EQ(r["error"]["code"], "invalid_argument");

  // Model card changed between keygen and screening; new keys fix it.
  auto card = real_card();
  FakeProvider fake(card);
  auto p = api.post("/api/providers", {{"name", "Fake"}, {"url", fake.url()}, {"token", kAlice}}, 201);
  auto ids = upload_cells(api, {w.cells[0], w.cells[1]}, 16);
  auto changed = card;
  changed["params_id"] = "12345";
  fake.set_card(changed);
  auto sid = api.post("/api/screenings", {{"provider_id", p["id"]}, {"cells", ids}}, 202)["id"].get<std::string>();
  auto s = api.wait(sid);
  EXPECT_EQ(s["status"], "failed");
  EXPECT_EQ(s["error"]["code"], "model_card_changed");
  EXPECT_NE(s["error"]["message"].get<std::string>().find("Make new keys"), std::string::npos);
  EXPECT_EQ(fake.jobs(), 0);  // nothing was sent
  fake.set_card(card);

  // Job failed at the provider.
  fake.set_job("failed", "worker crashed");
  ids = upload_cells(api, {w.cells[0]}, 16);
  sid = api.post("/api/screenings", {{"provider_id", p["id"]}, {"cells", ids}}, 202)["id"].get<std::string>();
  s = api.wait(sid);
  EXPECT_EQ(s["status"], "failed");
  EXPECT_EQ(s["error"]["code"], "job_failed");
  EXPECT_NE(s["error"]["message"].get<std::string>().find("worker crashed"), std::string::npos);

  // Cancel while the job waits in the provider's queue.
  fake.set_job("pending");
  ids = upload_cells(api, {w.cells[0]}, 16);
  sid = api.post("/api/screenings", {{"provider_id", p["id"]}, {"cells", ids}}, 202)["id"].get<std::string>();
  for (int i = 0; i < 600; ++i) {
    s = api.get("/api/screenings/" + sid);
    if (s["status"] == "queued" && s.contains("live") && s["live"].contains("provider_queued")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(s["status"], "queued") << s.dump();
  EXPECT_EQ(s["live"]["provider_queued"], 3);
  api.post("/api/screenings/" + sid + "/cancel", nlohmann::json::object(), 202);
  s = api.wait(sid);
  EXPECT_EQ(s["status"], "cancelled");
  api.post("/api/screenings/" + sid + "/cancel", nlohmann::json::object(), 409);
  // The request was at the provider: its job there is deleted, and the page says so.
  EXPECT_EQ(fake.jobs_deleted(), 1);
  EXPECT_NE(s["error"]["message"].get<std::string>().find("the provider's job was deleted"), std::string::npos) << s.dump();
  // eval.key went to the provider once, when it was added: screenings only ask whether it still holds it.
  EXPECT_EQ(fake.keys_posted(), 1);

  // A provider whose key limit is below eval.key: a clear error naming the limit, nothing sent.
  FakeProvider small(card);
  small.set_max_key_bytes(1000);
  r = api.post("/api/providers", {{"name", "Small"}, {"url", small.url()}, {"token", kAlice}}, 502);
  EXPECT_EQ(r["error"]["code"], "provider_error");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("--max-key-mb"), std::string::npos) << r.dump();
  EXPECT_EQ(small.keys_posted(), 0);

  // The provider goes down after the keys were made: the screening says so.
  auto down = std::make_unique<FakeProvider>(card);
  p = api.post("/api/providers", {{"name", "Down"}, {"url", down->url()}, {"token", kAlice}}, 201);
  down.reset();
  ids = upload_cells(api, {w.cells[0]}, 16);
  sid = api.post("/api/screenings", {{"provider_id", p["id"]}, {"cells", ids}}, 202)["id"].get<std::string>();
  s = api.wait(sid);
  EXPECT_EQ(s["status"], "failed");
  EXPECT_EQ(s["error"]["code"], "provider_unreachable") << s.dump();
}

}  // namespace
}  // namespace leukocrypt::clinic
