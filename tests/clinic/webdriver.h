// Test helper: a minimal W3C WebDriver client (cpp-httplib + nlohmann_json) driving headless
// Chromium through chromedriver, which it starts on a free loopback port and stops. Only what the
// clinic's browser test needs: navigate, find, click, type (file inputs too), run a script, wait,
// screenshot. https://www.w3.org/TR/webdriver2/
#pragma once

#include <httplib.h>
#include <sodium.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "free_port.h"
#include "process.h"

namespace leukocrypt::clinic::testing {

class WebDriver {
 public:
  static constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

  WebDriver(const std::string& chromedriver, const std::string& chromium, const std::filesystem::path& dir) {
    port_ = closed_port();
    pid_ = leukocrypt::testing::spawn({chromedriver, "--port=" + std::to_string(port_)}, (dir / "chromedriver.log").string());
    http_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    http_->set_read_timeout(120);
    for (int i = 0; i < 200; ++i) {  // up to 10 s
      auto r = http_->Get("/status");
      if (r && r->status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto profile = dir / "chromium-profile";
    nlohmann::json args = {"--headless",         "--no-sandbox",        "--disable-gpu",
                           "--disable-quic",     "--no-first-run",      "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                           "--window-size=1280,1400", "--user-data-dir=" + profile.string()};
    nlohmann::json caps = {{"capabilities",
                            {{"alwaysMatch",
                              {{"browserName", "chrome"},
                               {"goog:chromeOptions", {{"binary", chromium}, {"args", args}}}}}}}};
    auto r = call("POST", "/session", caps);
    if (r.contains("value") && r["value"].is_object()) session_ = r["value"].value("sessionId", "");
    if (session_.empty()) throw std::runtime_error("webdriver: no session: " + r.dump());
  }
  ~WebDriver() {
    if (!session_.empty()) http_->Delete(("/session/" + session_).c_str());
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  void navigate(const std::string& url) { cmd("POST", "/url", {{"url", url}}); }
  std::string find(const std::string& css) {
    auto v = cmd("POST", "/element", {{"using", "css selector"}, {"value", css}});
    if (!v.is_object() || !v.contains(kElementKey)) throw std::runtime_error("webdriver: no element '" + css + "': " + v.dump());
    return v[kElementKey].get<std::string>();
  }
  void click(const std::string& css) { cmd("POST", "/element/" + find(css) + "/click", nlohmann::json::object()); }
  void type(const std::string& css, const std::string& text) {
    cmd("POST", "/element/" + find(css) + "/value", {{"text", text}});
  }
  std::string text(const std::string& css) { return cmd("GET", "/element/" + find(css) + "/text").get<std::string>(); }
  // Runs `body` (a function body; arguments[0..]) in the page and returns its value.
  nlohmann::json script(const std::string& body, nlohmann::json args = nlohmann::json::array()) {
    return cmd("POST", "/execute/sync", {{"script", body}, {"args", args}});
  }
  // Polls the script until it returns true; throws naming `what` after timeout_s.
  bool wait_for(const std::string& body, const std::string& what, int timeout_s = 60) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      auto v = script(body);
      if (v.is_boolean() && v.get<bool>()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("browser: timed out after " + std::to_string(timeout_s) + " s waiting for " + what);
  }
  std::string screenshot_png() {
    auto b64 = cmd("GET", "/screenshot").get<std::string>();
    std::string out(b64.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(), b64.size(), nullptr,
                          &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
      throw std::runtime_error("webdriver: screenshot is not base64");
    out.resize(len);
    return out;
  }

 private:
  nlohmann::json cmd(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) {
    auto r = call(method, "/session/" + session_ + path, body);
    if (r.contains("value") && r["value"].is_object() && r["value"].contains("error"))
      throw std::runtime_error("webdriver " + method + " " + path + ": " + r["value"].dump());
    return r.value("value", nlohmann::json());
  }
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json& body) {
    httplib::Result r = method == "GET" ? http_->Get(path.c_str())
                                        : http_->Post(path.c_str(), body.is_null() ? "{}" : body.dump(), "application/json");
    if (!r) throw std::runtime_error("webdriver: chromedriver not answering " + method + " " + path);
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("webdriver: not JSON: " + r->body);
    return j;
  }

  int port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
};

}  // namespace leukocrypt::clinic::testing
