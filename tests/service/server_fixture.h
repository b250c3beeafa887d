// Shared by the HTTP service tests: a server on 127.0.0.1 (any free port) with a fake runner,
// tokens for alice, bob and c0..c7, and small HTTP helpers that assert JSON errors.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "fake_runner.h"
#include "raw_connection.h"
#include "service/server.h"
#include "test_dir.h"
#include "test_store.h"

namespace leukocrypt::service::testing {

inline constexpr const char* kAlice = "alice-token-0123456789";
inline constexpr const char* kBob = "bob-token-0123456789abc";
inline constexpr const char* kExpired = "carol-token-expired-0123";  // expired in 2020
inline constexpr const char* kValidUntil2200 = "dave-token-valid-until-2200";

inline ServerOptions options() {
  ServerOptions o;
  o.port = 0;
  o.max_request_bytes = 1 << 20;
  o.tokens.add("alice", kAlice);
  o.tokens.add("bob", kBob);
  o.tokens.add("carol", kExpired, TokenTable::parse_utc("2020-01-01T00:00:00Z"));
  o.tokens.add("dave", kValidUntil2200, TokenTable::parse_utc("2200-12-31T23:59:59Z"));
  for (int i = 0; i < 8; ++i) o.tokens.add(std::string("c").append(std::to_string(i)), "client-token-" + std::to_string(i) + "-abcdefgh");
  return o;
}

inline httplib::Headers auth(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

inline httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  c.set_read_timeout(10);
  c.set_write_timeout(10);
  return c;
}

inline nlohmann::json body_json(const httplib::Result& r) {
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << r->body;
  return nlohmann::json::parse(r->body, nullptr, false);
}

// Expects a JSON error with the given status.
inline void expect_error(const httplib::Result& r, int status, const std::string& code = "") {
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, status) << r->body;
  auto j = body_json(r);
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_EQ(j["error"]["status"], status);
  if (!code.empty()) {
    EXPECT_EQ(j["error"]["code"], code) << r->body;
  }
}

// Polls a job until it is done or failed (bounded: 30 s).
inline nlohmann::json wait_job(httplib::Client& c, const std::string& token, const std::string& id) {
  for (int i = 0; i < 3000; ++i) {
    auto r = c.Get(("/v1/jobs/" + id).c_str(), auth(token));
    if (!r || r->status != 200) return {};
    auto j = nlohmann::json::parse(r->body);
    if (j["status"] == "done" || j["status"] == "failed") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "job " << id << " did not finish in 30 s";
  return {};
}

inline std::string submit(httplib::Client& c, const std::string& token, const std::string& body) {
  auto r = c.Post("/v1/jobs", auth(token), body, "application/octet-stream");
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 202) << r->body;
  if (r->status != 202) return {};
  return nlohmann::json::parse(r->body)["job_id"];
}

// Posts `body` to /v1/jobs in 64 KiB pieces: with Content-Length (sized) or chunked.
inline httplib::Result post_streamed(httplib::Client& c, const std::string& token, const std::string& body, bool sized) {
  c.set_bearer_token_auth(token.c_str());
  constexpr std::size_t kPiece = 64 << 10;
  if (sized)
    return c.Post("/v1/jobs", body.size(),
                  [&](std::size_t off, std::size_t len, httplib::DataSink& sink) {
                    return sink.write(body.data() + off, std::min(len, kPiece));
                  },
                  "application/octet-stream");
  return c.Post("/v1/jobs",
                [&, off = std::size_t(0)](std::size_t, httplib::DataSink& sink) mutable {
                  if (off >= body.size()) {
                    sink.done();
                    return true;
                  }
                  const std::size_t n = std::min(kPiece, body.size() - off);
                  off += n;
                  return sink.write(body.data() + off - n, n);
                },
                "application/octet-stream");
}

// Polls cond every 10 ms for up to 10 s (no timing assumption beyond "eventually").
template <class F>
inline bool eventually(F&& cond) {
  for (int i = 0; i < 1000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

using leukocrypt::testing::RawConnection;
using leukocrypt::testing::raw_status;

struct ServiceServer : ::testing::Test {
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
  leukocrypt::testing::TempDir dir;
  FakeRunner runner;
  std::unique_ptr<JobStore> store = std::make_unique<JobStore>(leukocrypt::testing::test_store(dir / "jobs.db"));
  std::unique_ptr<Server> server;
  int port = 0;

  void start(ServerOptions o = options()) {
    server = std::make_unique<Server>(std::move(o), *store, runner);
    port = server->start();
  }
  void healthy() {
    auto c = client(port);
    auto r = c.Get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
};

}  // namespace leukocrypt::service::testing
