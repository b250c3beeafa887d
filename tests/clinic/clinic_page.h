// Test helper: the clinic page from a browser's side — `leukocrypt clinic` as a child process,
// dropping files on the page's drop zone, adding a provider — shared by the browser test and the
// page timing benchmark (bench/clinic).
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "webdriver.h"

namespace leukocrypt::clinic::testing {

// True once a screening finished and its results are on the page.
inline constexpr const char* kResultsShown =
    "return document.getElementById('stage').dataset.status === 'done' && "
    "!document.getElementById('results-section').hidden;";

// `leukocrypt clinic` as a child process; url() holds this start's access token.
class ClinicProcess {
 public:
  // insecure_for_tests: for the tests' tiny providers; the benchmark runs the clinic as the README does.
  ClinicProcess(const std::string& cli, const std::filesystem::path& data, const std::filesystem::path& dir,
                bool insecure_for_tests = true) {
    auto url_file = dir / "clinic-url";
    std::filesystem::remove(url_file);
    log_ = (dir / "clinic.log").string();
    std::vector<std::string> args = {cli, "clinic", "--port", "0", "--data-dir", data.string(), "--url-file", url_file.string()};
    if (insecure_for_tests) args.push_back("--insecure-for-tests");
    pid_ = leukocrypt::testing::spawn(args, log_);
    for (int i = 0; i < 300 && url_.empty(); ++i) {
      std::ifstream in(url_file);
      std::getline(in, url_);
      if (url_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ClinicProcess() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  const std::string& url() const { return url_; }
  std::string log() const { return leukocrypt::testing::slurp(log_); }

 private:
  pid_t pid_ = -1;
  std::string url_, log_;
};

// Fills the page's "Add a provider" form and waits for the key fingerprint.
inline void add_provider(WebDriver& b, const std::string& name, const std::string& url, const std::string& token,
                         int timeout_s = 300) {
  b.script("document.getElementById('add-provider-box').open = true;");
  b.type("#provider-name", name);
  b.type("#provider-url", url);
  b.type("#provider-token", token);
  b.click("#add-provider");
  b.wait_for("return !!document.getElementById('key-fingerprint');", "the key fingerprint", timeout_s);
}

// Puts the files into a temporary file input and drops them on the drop zone, as a drag from
// the file manager does.
inline void drop_files(WebDriver& b, const std::vector<std::filesystem::path>& files) {
  b.script(
      "const i = document.createElement('input'); i.type = 'file'; i.multiple = true; i.id = 'test-stage';"
      "document.body.appendChild(i);");
  std::string paths;
  for (const auto& f : files) {  // chromedriver takes absolute canonical paths, one per line
    if (!paths.empty()) paths += '\n';
    paths += std::filesystem::weakly_canonical(std::filesystem::absolute(f)).string();
  }
  b.type("#test-stage", paths);
  b.script(
      "const i = document.getElementById('test-stage'); const dt = new DataTransfer();"
      "for (const f of i.files) dt.items.add(f); i.remove();"
      "document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));");
}

}  // namespace leukocrypt::clinic::testing
