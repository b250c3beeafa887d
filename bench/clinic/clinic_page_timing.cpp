// Whole-process timing of the clinic page as a new user meets it: `leukocrypt serve` with a real
// model and its parameters is running; `leukocrypt clinic` starts (fresh data directory: no
// keys yet); in headless Chromium the user opens the printed address, adds the provider (keys
// made and registered), drops N real C-NMC cells and screens them until the results show. Prints
// each phase per run and the medians; the last run's results view is saved as a screenshot.
//   clinic_page_timing --model models/cnmc-x2.lcm --params params.json --cells DIR [--count 10]
//                      [--runs 3] [--screenshot docs/clinic-results.png] [--work /tmp/...]
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <regex>
#include <nlohmann/json.hpp>

#include "cell_files.h"
#include "clinic_page.h"
#include "common/paths.h"

namespace fs = std::filesystem;
using namespace leukocrypt;
using namespace leukocrypt::clinic::testing;

namespace {

struct Args {
  std::string model, params, cells, screenshot, work = fs::temp_directory_path() / "lc-clinic-timing";
  std::size_t count = 10;
  int runs = 3;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") a.model = v;
    else if (k == "--params") a.params = v;
    else if (k == "--cells") a.cells = v;
    else if (k == "--count") a.count = std::stoul(v);
    else if (k == "--runs") a.runs = std::stoi(v);
    else if (k == "--screenshot") a.screenshot = v;
    else if (k == "--work") a.work = v;
    else throw std::runtime_error("unknown option " + k);
  }
  if (a.model.empty() || a.params.empty() || a.cells.empty())
    throw std::runtime_error("usage: clinic_page_timing --model M --params P --cells CNMC_DIR [--count N] [--runs R] "
                             "[--screenshot PNG] [--work DIR]");
  return a;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One run from `leukocrypt clinic` starting to the results on the page; phase -> seconds.
std::map<std::string, double> run_once(WebDriver& b, const Args& a, const std::string& provider_url,
                                       const std::string& token, const std::vector<fs::path>& cells, int run) {
  const fs::path dir = fs::path(a.work) / ("run-" + std::to_string(run));
  fs::create_directories(dir);
  std::map<std::string, double> t;
  const auto t0 = std::chrono::steady_clock::now();
  ClinicProcess clinic(LEUKOCRYPT_CLI, dir / "clinic-data", dir, /*insecure_for_tests=*/false);  // as the README
  if (clinic.url().empty()) throw std::runtime_error("the clinic did not start: " + clinic.log());
  b.navigate(clinic.url());
  b.wait_for("return document.body.dataset.ready === '1';", "the page");
  t["page_ready"] = since(t0);
  add_provider(b, "Provider", provider_url, token, 900);
  t["provider_added"] = since(t0);
  // The clinic's log splits adding the provider into key generation and registration.
  const std::string log = clinic.log();
  std::smatch m;
  if (std::regex_search(log, m, std::regex(R"(keys made in ([0-9.e+-]+) s, .* registered in ([0-9.e+-]+) s)")))
    t["keygen_s"] = std::stod(m[1]), t["register_s"] = std::stod(m[2]);
  drop_files(b, cells);
  b.wait_for("return document.querySelectorAll('#cell-grid img').length === " + std::to_string(cells.size()) + ";",
             "the thumbnails");
  t["cells_shown"] = since(t0);
  b.type("#patient", "demo " + std::to_string(run + 1));
  b.click("#screen-button");
  std::string last;
  while (true) {  // stage transitions as the page shows them
    auto s = b.script("return document.getElementById('stage').dataset.status || '';").get<std::string>();
    if (s != last && !s.empty()) t["stage_" + s] = since(t0), last = s;
    if (b.script(kResultsShown).get<bool>()) break;
    if (s == "failed" || s == "cancelled") throw std::runtime_error("screening " + s + ": " + b.text("#error-text"));
    if (since(t0) > 900) throw std::runtime_error("no result after 900 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  t["results_shown"] = since(t0);
  return t;
}

}  // namespace

int main(int argc, char** argv) try {
  std::signal(SIGPIPE, SIG_IGN);
  const Args a = parse(argc, argv);
  fs::remove_all(a.work);
  fs::create_directories(a.work);
  const std::string token = "timing-token-0123456789abcdef";
  write_file_atomic(fs::path(a.work) / "tokens.txt", "timing " + token + "\n", 0600);
  leukocrypt::testing::ServerProcess provider({LEUKOCRYPT_CLI, "serve", "--model", a.model, "--params", a.params, "--db",
                                               (fs::path(a.work) / "jobs.db").string(), "--tokens",
                                               (fs::path(a.work) / "tokens.txt").string(), "--max-request-mb", "8192", "--max-key-mb", "8192"},
                                              a.work);
  if (provider.port() <= 0) throw std::runtime_error("serve did not start: " + provider.log());
  // count/2 ALL and count/2 normal cells, the first by name, as a technician's folder would hold.
  const auto cells = leukocrypt::testing::first_cells(a.cells, a.count / 2);
  WebDriver b(LEUKOCRYPT_CHROMEDRIVER, LEUKOCRYPT_CHROMIUM, a.work);
  std::map<std::string, std::vector<double>> all;
  for (int r = 0; r < a.runs; ++r) {
    auto t = run_once(b, a, provider.url(), token, cells, r);
    nlohmann::json j(t);
    j["run"] = r;
    j["cells"] = cells.size();
    std::cout << j.dump() << std::endl;
    for (auto& [k, v] : t) all[k].push_back(v);
    if (r + 1 == a.runs && !a.screenshot.empty()) {
      b.script("document.getElementById('results-section').scrollIntoView();");
      write_file_atomic(a.screenshot, b.screenshot_png());
    }
    fs::remove_all(fs::path(a.work) / ("run-" + std::to_string(r)));  // the staged request is gone already
  }
  nlohmann::json med;
  for (auto& [k, v] : all) {
    std::sort(v.begin(), v.end());
    med[k] = v[v.size() / 2];
  }
  std::cout << "median " << med.dump() << std::endl;
  return 0;
} catch (const std::exception& e) {
  std::cerr << "clinic_page_timing: " << e.what() << std::endl;
  return 1;
}
