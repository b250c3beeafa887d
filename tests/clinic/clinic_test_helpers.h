// Test helpers for the clinic: a temporary directory, real C-NMC cell files, a client of the
// clinic's JSON API that holds the session cookie and CSRF token like the page does, and a fake
// provider (httplib) that serves a given model card and answers jobs as told — for the error
// paths a real provider does not produce on demand (job failed, model card changed, a job that
// stays queued).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "clinic/clinic_server.h"
#include "cell_files.h"
#include "free_port.h"
#include "process.h"
#include "common/paths.h"
#include "service/wire/container.h"

namespace leukocrypt::clinic::testing {

namespace fs = std::filesystem;

using leukocrypt::testing::TempDir;
using leukocrypt::testing::real_cells;

// The page's view of the API: session cookie + X-CSRF-Token on every call.
class ApiClient {
 public:
  explicit ApiClient(const ClinicServer& s, int port) : http_("127.0.0.1", port) {
    cookie_ = s.guard().cookie_name() + "=" + s.guard().token();
    csrf_ = s.guard().csrf();
    http_.set_read_timeout(120);
  }
  httplib::Headers headers() const { return {{"Cookie", cookie_}, {"X-CSRF-Token", csrf_}}; }
  httplib::Client& http() { return http_; }

  nlohmann::json get(const std::string& path, int expect = 200) {
    return check(http_.Get(path.c_str(), headers()), expect, "GET " + path);
  }
  nlohmann::json post(const std::string& path, const nlohmann::json& body, int expect) {
    return check(http_.Post(path.c_str(), headers(), body.dump(), "application/json"), expect, "POST " + path);
  }
  // Uploads one file as the page does (bytes, its path in ?name=, the model's input side).
  nlohmann::json upload(const std::string& name, const std::string& bytes, int size, int expect) {
    auto path = "/api/cells?name=" + httplib::detail::encode_query_param(name) + "&size=" + std::to_string(size);
    return check(http_.Post(path.c_str(), headers(), bytes, "application/octet-stream"), expect, "POST /api/cells");
  }
  // Polls a screening until it is done, failed or cancelled.
  nlohmann::json wait(const std::string& id, int timeout_s = 180) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (true) {
      auto j = get("/api/screenings/" + id);
      const auto s = j.value("status", "");
      if (s == "done" || s == "failed" || s == "cancelled") return j;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "screening " << id << " still " << s;
        return j;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

 private:
  nlohmann::json check(const httplib::Result& r, int expect, const std::string& what) {
    if (!r) {
      ADD_FAILURE() << what << ": no answer";
      return nlohmann::json::object();
    }
    EXPECT_EQ(r->status, expect) << what << ": " << r->body;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_discarded() ? nlohmann::json{{"raw", r->body}} : j;
  }
  httplib::Client http_;
  std::string cookie_, csrf_;
};

// A provider stand-in: serves `card`, accepts any keys and jobs, and reports every job with
// `job_status` (and `job_error`).
class FakeProvider {
 public:
  explicit FakeProvider(nlohmann::json card) : card_(std::move(card)) {
    http_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(nlohmann::json{{"status", "ok"}, {"queued", 3}, {"workers", 1}, {"max_request_bytes", 4294967296},
                                     {"max_key_bytes", max_key_bytes_.load()}}
                          .dump(),
                      "application/json");
    });
    http_.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(card_.dump(), "application/json");
    });
    http_.Post("/v1/keys", [this](const httplib::Request&, httplib::Response& res) {
      ++keys_posted_;
      res.status = 201;
      res.set_content(R"({"key_id":"k","created":true})", "application/json");
    });
    http_.Get(R"(/v1/keys/([A-Za-z0-9_-]+))", [this](const httplib::Request&, httplib::Response& res) {
      res.status = keys_posted_ > 0 ? 200 : 404;  // the one key this fake holds, once posted
      res.set_content(R"({"key_id":"k"})", "application/json");
    });
    http_.Delete("/v1/jobs/fakejob1", [this](const httplib::Request&, httplib::Response& res) {
      ++jobs_deleted_;
      res.set_content(R"({"job_id":"fakejob1","deleted":true,"was":"pending"})", "application/json");
    });
    http_.Post("/v1/jobs", [this](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& read) {
      read([](const char*, std::size_t) { return true; });
      ++jobs_;
      res.status = 202;
      res.set_content(R"({"job_id":"fakejob1","status":"pending"})", "application/json");
    });
    http_.Get("/v1/jobs/fakejob1", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(nlohmann::json{{"id", "fakejob1"}, {"status", job_status_}, {"error", job_error_}}.dump(),
                      "application/json");
    });
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeProvider() {
    http_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_card(nlohmann::json c) {
    std::lock_guard lock(mu_);
    card_ = std::move(c);
  }
  void set_job(std::string status, std::string error = "") {
    std::lock_guard lock(mu_);
    job_status_ = std::move(status);
    job_error_ = std::move(error);
  }
  int jobs() const { return jobs_; }
  int jobs_deleted() const { return jobs_deleted_; }
  int keys_posted() const { return keys_posted_; }
  void set_max_key_bytes(std::uint64_t b) { max_key_bytes_ = b; }

 private:
  httplib::Server http_;
  std::thread thread_;
  std::mutex mu_;
  nlohmann::json card_;
  std::string job_status_ = "pending", job_error_;
  std::atomic<int> jobs_{0}, jobs_deleted_{0}, keys_posted_{0};
  std::atomic<std::uint64_t> max_key_bytes_{std::uint64_t(1) << 30};
  int port_ = 0;
};

}  // namespace leukocrypt::clinic::testing
