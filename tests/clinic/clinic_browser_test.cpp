// The clinic page in a real headless Chromium (Debian chromium + chromium-driver, W3C WebDriver):
// a provider (`leukocrypt serve`, the tiny test network with INSECURE N = 256 parameters), the
// clinic process (`leukocrypt clinic`) and the browser. The page adds the provider (fingerprint
// shown), takes real C-NMC cells through its drop zone (plus a file it must reject), screens them,
// and the labels it shows must equal `leukocrypt screen`'s for the same cells. Error paths: a
// wrong access token, the provider down. A screenshot of the results view is written to
// $LEUKOCRYPT_CLINIC_SCREENSHOT (default: clinic-results.png in the working directory).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <map>

#include "client/keyholder.h"
#include "clinic/provider_keys.h"
#include "clinic_test_helpers.h"
#include "process.h"
#include "tiny_setup.h"
#include "clinic_page.h"
#include "webdriver.h"

namespace leukocrypt::clinic {
namespace {

using namespace clinic::testing;
const std::string kCli = LEUKOCRYPT_CLI;
const std::string kToken = "lab-token-0123456789abcdef";

// Labels `leukocrypt screen` gives the same files, by file name.
std::map<std::string, std::string> screen_labels(const fs::path& dir, const std::string& url,
                                                 const std::vector<fs::path>& files) {
  auto card = dir / "card.json";
  httplib::Client prov(url);
  auto r = prov.Get("/v1/model", {{"Authorization", "Bearer " + kToken}});
  write_file_atomic(card, r->body);
  auto keys = dir / "screen-keys";
  auto k = leukocrypt::testing::run({kCli, "keygen", "--params", card.string(), "--out", keys.string(), "--insecure-for-tests"}, dir);
  EXPECT_EQ(k.status, 0) << k.output;
  std::vector<std::string> args{kCli, "screen", "--server", url, "--token", kToken, "--keys", keys.string(), "--json",
                                "--insecure-for-tests"};
  for (const auto& f : files) args.push_back(f.string());
  auto s = leukocrypt::testing::run(args, dir, 180, /*stdout_only=*/true);
  EXPECT_EQ(s.status, 0) << s.output;
  std::map<std::string, std::string> out;
  auto j = nlohmann::json::parse(s.output, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& c : j["cells"]) out[c["cell"].get<std::string>()] = c["class"].get<std::string>();
  return out;
}

TEST(ClinicBrowser, ScreensRealCellsLikeScreenAndShowsErrors) {
  std::signal(SIGPIPE, SIG_IGN);
  TempDir dir("clinic-browser");
  leukocrypt::testing::TinySetup tiny(dir.path);
  write_file_atomic(dir.path / "tokens.txt", "lab " + kToken + "\n", 0600);
  auto provider = std::make_unique<leukocrypt::testing::ServerProcess>(
      std::vector<std::string>{kCli, "serve", "--model", tiny.model.string(), "--params", tiny.params.string(), "--insecure-for-tests", "--db",
                               (dir.path / "jobs.db").string(), "--tokens", (dir.path / "tokens.txt").string()},
      dir.path);
  ASSERT_GT(provider->port(), 0) << provider->log();
  const auto cells = real_cells(4);
  const auto expected = screen_labels(dir.path, provider->url(), cells);
  ASSERT_EQ(expected.size(), cells.size());

  ClinicProcess clinic(kCli, dir.path / "clinic-data", dir.path);
  ASSERT_FALSE(clinic.url().empty()) << clinic.log();
  WebDriver b(LEUKOCRYPT_CHROMEDRIVER, LEUKOCRYPT_CHROMIUM, dir.path);

  // A wrong access token: the page says which address to open.
  const auto base = clinic.url().substr(0, clinic.url().find("?token="));
  b.navigate(base + "?token=0123456789abcdef0123456789abcdef");
  EXPECT_NE(b.text("#access-error").find("Open the address that `leukocrypt clinic` printed"), std::string::npos);

  // The right one: the page loads, the provider is added, its key fingerprint shown.
  b.navigate(clinic.url());
  ASSERT_TRUE(b.wait_for("return document.body.dataset.ready === '1';", "the page to load"));
  EXPECT_EQ(b.script("return location.search;"), "");  // the token left the address bar
  add_provider(b, "Test lab", provider->url(), kToken);
  const auto provider_id = b.script("return document.getElementById('provider-select').value;").get<std::string>();
  const auto fp = sha256_hex(read_file(dir.path / "clinic-data" / "keys" / provider_id / "eval.key"));
  auto shown = b.text("#key-fingerprint");
  shown.erase(std::remove(shown.begin(), shown.end(), ' '), shown.end());
  EXPECT_EQ(shown, fp.substr(0, 32));
  // What was sent to the provider once, and the packings it serves.
  const auto info = b.text("#provider-info");
  EXPECT_NE(info.find("Evaluation key (sent once)"), std::string::npos) << info;
  EXPECT_NE(info.find("Packings served"), std::string::npos) << info;

  // Cells through the drop zone, with one file the page must reject.
  auto notes = dir.path / "notes.txt";
  write_file_atomic(notes, "not an image");
  auto files = cells;
  files.push_back(notes);
  drop_files(b, files);
  ASSERT_TRUE(b.wait_for("return document.querySelectorAll('#cell-grid img').length === " + std::to_string(cells.size()) +
                             " && !document.getElementById('rejected-box').hidden;",
                         "thumbnails and the rejected file"));
  EXPECT_NE(b.text("#rejected").find("notes.txt: not a BMP, PNG or JPEG image"), std::string::npos);
  EXPECT_EQ(b.script("const i = document.querySelector('#cell-grid img'); return [i.naturalWidth, i.naturalHeight];"),
            nlohmann::json({16, 16}));

  // Screen; the labels shown equal `leukocrypt screen`'s.
  b.type("#patient", "P-001");
  b.click("#screen-button");
  ASSERT_TRUE(b.wait_for(kResultsShown, "the screening to finish", 180));
  auto rows = b.script("return [...document.querySelectorAll('#results-table tbody tr')]"
                       ".map(tr => [tr.dataset.cell, tr.dataset.class]);");
  ASSERT_EQ(rows.size(), cells.size());
  std::size_t all = 0;
  for (const auto& r : rows) {
    const auto name = fs::path(r[0].get<std::string>()).filename().string();
    ASSERT_TRUE(expected.count(name)) << name;
    EXPECT_EQ(r[1], expected.at(name)) << name;
    all += r[1] == "all";
  }
  EXPECT_EQ(b.text("#all-count"), std::to_string(all));
  EXPECT_EQ(b.text("#results-packing"), "throughput packing");  // this provider's card serves only throughput
  EXPECT_EQ(b.script("return [...document.querySelectorAll('#histogram rect')].reduce((s, r) => s + +r.dataset.count, 0);"),
            cells.size());
  // Sorting by probability orders the rows.
  b.click("#results-table th[data-sort='probability']");
  auto probs = b.script("return [...document.querySelectorAll('#results-table tbody tr td:nth-child(4)')].map(td => +td.textContent);");
  EXPECT_TRUE(std::is_sorted(probs.begin(), probs.end()));
  EXPECT_NE(b.script("return document.getElementById('export-csv').getAttribute('href');").get<std::string>().find("export.csv"),
            std::string::npos);
  {
    const char* env = std::getenv("LEUKOCRYPT_CLINIC_SCREENSHOT");
    b.script("document.getElementById('results-section').scrollIntoView();");
    write_file_atomic(env ? env : "clinic-results.png", b.screenshot_png());
  }

  // Reload: the screening is listed and reopens.
  b.navigate(base);
  ASSERT_TRUE(b.wait_for("return document.body.dataset.ready === '1' && "
                         "document.querySelectorAll('#history tbody tr').length === 1;",
                         "the earlier screening"));
  b.click("#history .open-screening");
  ASSERT_TRUE(b.wait_for("return document.querySelectorAll('#results-table tbody tr').length === " +
                             std::to_string(cells.size()) + ";",
                         "the reopened results"));

  // The provider goes down: screening again says it cannot reach it.
  provider.reset();
  drop_files(b, {cells[0]});
  ASSERT_TRUE(b.wait_for("return document.querySelectorAll('#cell-grid img').length >= 1;", "a cell"));
  b.click("#screen-button");
  ASSERT_TRUE(b.wait_for("return !document.getElementById('error-banner').hidden;", "the error banner", 60));
  EXPECT_EQ(b.script("return document.getElementById('error-banner').dataset.code;"), "provider_unreachable");
  EXPECT_NE(b.text("#error-text").find("cannot reach the provider"), std::string::npos);
}

// A CKKS provider (CKKS parameters, --no-circuit-privacy; INSECURE N = 1024 test parameters): the
// page says the scheme, screens the cells in the throughput packing, and shows the labels
// `leukocrypt screen` gives with CKKS keys for the same files.
TEST(ClinicBrowser, CkksProviderScreensLikeScreen) {
  std::signal(SIGPIPE, SIG_IGN);
  TempDir dir("clinic-browser-ckks");
  leukocrypt::testing::TinySetup tiny(dir.path);
  write_file_atomic(dir.path / "tokens.txt", "lab " + kToken + "\n", 0600);
  const auto cells = real_cells(2);
  const auto inputs = client::load_images(cells, 16);
  std::vector<const std::uint8_t*> ptrs;
  for (const auto& c : inputs) ptrs.push_back(c.pixels.data());
  const auto params = tiny.insecure_ckks_params(dir.path / "params-ckks-insecure-test.json", ptrs);
  leukocrypt::testing::ServerProcess provider(
      {kCli, "serve", "--model", tiny.model.string(), "--params", params.string(), "--insecure-for-tests",
       "--no-circuit-privacy", "--db", (dir.path / "jobs.db").string(), "--tokens", (dir.path / "tokens.txt").string()},
      dir.path);
  ASSERT_GT(provider.port(), 0) << provider.log();
  const auto expected = screen_labels(dir.path, provider.url(), cells);
  ASSERT_EQ(expected.size(), cells.size());

  ClinicProcess clinic(kCli, dir.path / "clinic-data", dir.path);
  ASSERT_FALSE(clinic.url().empty()) << clinic.log();
  WebDriver b(LEUKOCRYPT_CHROMEDRIVER, LEUKOCRYPT_CHROMIUM, dir.path);
  b.navigate(clinic.url());
  ASSERT_TRUE(b.wait_for("return document.body.dataset.ready === '1';", "the page to load"));
  add_provider(b, "CKKS lab", provider.url(), kToken);
  const auto info = b.text("#provider-info");
  EXPECT_NE(info.find("CKKS (approximate; results are decrypted here and never sent back)"), std::string::npos) << info;

  drop_files(b, cells);
  ASSERT_TRUE(b.wait_for("return document.querySelectorAll('#cell-grid img').length === " + std::to_string(cells.size()) + ";",
                         "thumbnails"));
  b.click("#screen-button");
  ASSERT_TRUE(b.wait_for(kResultsShown, "the screening to finish", 180));
  auto rows = b.script("return [...document.querySelectorAll('#results-table tbody tr')]"
                       ".map(tr => [tr.dataset.cell, tr.dataset.class]);");
  ASSERT_EQ(rows.size(), cells.size());
  for (const auto& r : rows) {
    const auto name = fs::path(r[0].get<std::string>()).filename().string();
    ASSERT_TRUE(expected.count(name)) << name;
    EXPECT_EQ(r[1], expected.at(name)) << name;
  }
  EXPECT_EQ(b.text("#results-packing"), "throughput packing");  // CKKS: the only packing
}

}  // namespace
}  // namespace leukocrypt::clinic
