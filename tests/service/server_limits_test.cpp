// Bounded work per request (issue 11, item 3): the token is checked before a key upload is read,
// every route but the two uploads has a small body limit, per-job caps on cells and batches,
// per-client quotas on keys and on queued cells, refused (not full-width) input is a 422, and the
// full check runs on the validation threads, never on an HTTP thread.
#include <gtest/gtest.h>

#include <chrono>

#include "common/paths.h"

#include "server_fixture.h"

namespace leukocrypt::service {
namespace {

using namespace testing;
using Clock = std::chrono::steady_clock;

std::string post_head(const std::string& path, const std::string& token, const std::string& length) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + length + "\r\n\r\n";
}

TEST_F(ServiceServer, KeyUploadIsRefusedOnTheTokenBeforeItsBodyIsRead) {
  start();
  // Announces 1 GiB and sends none of it: the 401 comes from the headers alone.
  RawConnection raw(port);
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send(post_head("/v1/keys", "not-a-valid-token-at-all", std::to_string(1u << 30))));
  auto t = Clock::now();
  auto reply = raw.receive(5000);
  EXPECT_EQ(raw_status(reply), 401) << reply;
  EXPECT_NE(reply.find("\"unauthorized\""), std::string::npos) << reply;
  EXPECT_LT(Clock::now() - t, std::chrono::seconds(4));
  healthy();
}

TEST_F(ServiceServer, KeyUploadAboveItsLimitIs413SizedOrChunked) {
  auto o = options();
  o.max_key_bytes = 4096;
  start(std::move(o));
  RawConnection raw(port);
  ASSERT_TRUE(raw.send(post_head("/v1/keys", kAlice, "5000") + std::string(5000, 'k')));
  auto reply = raw.receive(5000);
  EXPECT_EQ(raw_status(reply), 413) << reply;
  EXPECT_NE(reply.find("--max-key-mb"), std::string::npos) << reply;
  auto c = client(port);
  c.set_bearer_token_auth(kAlice);
  std::string big(8192, 'k');
  auto r = c.Post("/v1/keys",
                  [&, sent = false](std::size_t, httplib::DataSink& sink) mutable {
                    if (sent) {
                      sink.done();
                      return true;
                    }
                    sent = true;
                    return sink.write(big.data(), big.size());
                  },
                  "application/octet-stream");
  expect_error(r, 413, "payload_too_large");
  EXPECT_EQ(store->count_keys("alice"), 0u);
  healthy();
}

TEST_F(ServiceServer, RoutesThatDoNotStreamHaveASmallBodyLimit) {
  auto o = options();
  o.max_body_bytes = 1024;
  start(std::move(o));
  // 10 MB announced on a GET: refused from the headers, nothing buffered.
  RawConnection raw(port);
  ASSERT_TRUE(raw.send("GET /v1/model HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + std::string(kAlice) +
                       "\r\nContent-Length: 10000000\r\n\r\n"));
  auto reply = raw.receive(5000);
  EXPECT_EQ(raw_status(reply), 413) << reply;
  EXPECT_NE(reply.find("takes at most 1024 bytes"), std::string::npos) << reply;
  // A small body on the same route is still served.
  auto c = client(port);
  auto headers = auth(kAlice);
  auto r = c.Get("/v1/model", headers);
  EXPECT_EQ(r->status, 200);
  healthy();
}

TEST_F(ServiceServer, KeysPerClientQuota) {
  auto o = options();
  o.max_keys_per_client = 2;
  start(std::move(o));
  auto c = client(port);
  const char* bin = "application/octet-stream";
  EXPECT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("k1"), bin)->status, 201);
  EXPECT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("k2"), bin)->status, 201);
  expect_error(c.Post("/v1/keys", auth(kAlice), make_keys("k3"), bin), 429, "too_many_keys");
  EXPECT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("k2"), bin)->status, 200);  // re-registering is free
  EXPECT_EQ(c.Post("/v1/keys", auth(kBob), make_keys("k3"), bin)->status, 201);    // per client
  EXPECT_EQ(store->count_keys("alice"), 2u);
}

TEST_F(ServiceServer, CellsAndBatchesPerJobAreCapped) {
  auto o = options();
  o.max_cells_per_job = 3000;
  o.max_batches_per_job = 2;  // kSlots = 1024 per batch: 2048 cells
  start(std::move(o));
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("ka", std::vector<std::uint64_t>(3001, 1)), bin), 413,
               "too_many_cells");
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("ka", std::vector<std::uint64_t>(2049, 1)), bin), 413,
               "too_many_batches");
  EXPECT_EQ(store->count_queued(), 0u);
  EXPECT_EQ(store->count_partial_uploads(), 0u);
  auto id = submit(c, kAlice, make_request("ka", std::vector<std::uint64_t>(2048, 1)));
  EXPECT_EQ(wait_job(c, kAlice, id)["status"], "done");
}

TEST_F(ServiceServer, QueuedCellsPerClientQuota) {
  auto o = options();
  o.max_queued_cells_per_client = 5;
  runner.delay_ms = 1500;
  start(std::move(o));
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  ASSERT_EQ(c.Post("/v1/keys", auth(kBob), make_keys("kb"), bin)->status, 201);
  auto first = submit(c, kAlice, make_request("ka", {1, 2, 3}));
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("ka", {1, 2, 3}), bin), 429, "quota_exceeded");
  submit(c, kBob, make_request("kb", {1, 2, 3}));  // another client's quota is its own
  runner.delay_ms = 0;
  EXPECT_EQ(wait_job(c, kAlice, first)["status"], "done");
  submit(c, kAlice, make_request("ka", {1, 2, 3}));  // finished work frees the quota
}

TEST_F(ServiceServer, FullCheckRunsOffTheHttpThreads) {
  auto o = options();
  o.http_threads = 2;
  runner.validate_delay_ms = 3000;
  start(std::move(o));
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  // Three uploads whose full check takes 3 s each: each is answered at once (202, validating),
  // and both HTTP threads stay free for status polls.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = c.Post("/v1/jobs", auth(kAlice), make_request("ka", {std::uint64_t(i + 1)}), bin);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    auto j = body_json(r);
    EXPECT_EQ(j["status"], "validating");
    ids.push_back(j["job_id"]);
  }
  auto t = Clock::now();
  auto j = body_json(c.Get(("/v1/jobs/" + ids[2]).c_str(), auth(kAlice)));
  EXPECT_EQ(j["status"], "validating");
  healthy();
  EXPECT_LT(Clock::now() - t, std::chrono::seconds(2));
  runner.validate_delay_ms = 0;
  for (const auto& id : ids) EXPECT_EQ(wait_job(c, kAlice, id)["status"], "done");
  // The check's time is kept with the job's stages.
  auto first = wait_job(c, kAlice, ids[0]);
  EXPECT_GE(first["timings"]["stages"]["validate"].get<double>(), 2.5) << first.dump();
}

TEST_F(ServiceServer, RefusedInputFailsTheJobWith422) {
  start();
  auto c = client(port);
  const char* bin = "application/octet-stream";
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), bin)->status, 201);
  auto id = submit(c, kAlice, make_request("ka", {5, 0, 7}));  // the fake's stand-in for a zero row
  auto j = wait_job(c, kAlice, id);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error_code"], "refused_input");
  EXPECT_NE(j["error"].get<std::string>().find("all zero"), std::string::npos) << j.dump();
  expect_error(c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice)), 422, "refused_input");
  EXPECT_EQ(runner.runs, 0);
  EXPECT_EQ(store->count_queued(), 0u);
  healthy();
}

TEST_F(ServiceServer, JobsLeftValidatingAreCheckedAtTheNextStart) {
  // What a server killed during a full check leaves: the request stored, the job 'validating'.
  store->put_key("alice", {"ka", kParams}, make_keys("ka"));
  auto id = leukocrypt::testing::store_upload(*store, "alice", {"ka", kParams, kModel, 1}, make_request("ka", {9}));
  auto refused = leukocrypt::testing::store_upload(*store, "alice", {"ka", kParams, kModel, 1}, make_request("ka", {0}));
  start();
  auto c = client(port);
  EXPECT_EQ(wait_job(c, kAlice, id)["status"], "done");
  EXPECT_EQ(wait_job(c, kAlice, refused)["error_code"], "refused_input");
}

TEST_F(ServiceServer, SlowClientsAreCutOffAndTheServerKeepsServing) {
  auto o = options();
  o.http_threads = 2;
  o.read_timeout_s = 1;
  start(std::move(o));
  // Slowloris: as many connections as HTTP threads, each stopping half-way through its headers or
  // its body, then silent. The server answers each 400 after the read timeout and closes it; then
  // it serves again.
  RawConnection head(port), body(port);
  ASSERT_TRUE(head.send("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz"));
  ASSERT_TRUE(body.send(post_head("/v1/jobs", kAlice, "100000") + std::string(1000, 'x')));
  auto t = Clock::now();
  auto head_reply = head.receive(10000);
  auto body_reply = body.receive(10000);
  EXPECT_EQ(raw_status(head_reply), 400) << head_reply;
  EXPECT_EQ(raw_status(body_reply), 400) << body_reply;
  EXPECT_NE(body_reply.find("truncated_upload"), std::string::npos) << body_reply;
  head.receive(8000);  // closed at once, or after the keep-alive timeout (the read timeout here)
  body.receive(8000);
  EXPECT_TRUE(head.closed_by_server());
  EXPECT_TRUE(body.closed_by_server());
  EXPECT_LT(Clock::now() - t, std::chrono::seconds(8));
  healthy();
  // The handler thread removes its partial upload once it sees the closed socket: after the reply.
  EXPECT_TRUE(eventually([&] { return store->count_partial_uploads() == 0; }));
  EXPECT_EQ(store->count_queued(), 0u);
}

TEST_F(ServiceServer, TricklingClientsAreCutOffByTheRequestDeadline) {
  auto o = options();
  o.http_threads = 2;
  o.read_timeout_s = 2;
  o.request_timeout_s = 3;
  start(std::move(o));
  // Slowloris that never trips the read timeout: one byte per second, into the request head on
  // one connection and into an upload's body on the other (as many as HTTP threads). The whole-
  // request deadline answers 408 and closes both after 3 s (+ 100000 bytes at 1 MiB/s, + the
  // watchdog's 0.25 s tick); then the server serves again.
  RawConnection head(port), body(port);
  ASSERT_TRUE(head.send("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  ASSERT_TRUE(body.send(post_head("/v1/jobs", kAlice, "100000") + "LCX1"));
  const auto t = Clock::now();
  std::string head_reply, body_reply;
  for (int i = 0; i < 15 && !(head.closed_by_server() && body.closed_by_server()); ++i) {
    for (auto* c : {&head, &body}) {
      if (c->closed_by_server()) continue;
      c->send("a");
      (c == &head ? head_reply : body_reply) += c->receive(500);  // with the other: one byte per second
    }
  }
  const auto took = Clock::now() - t;
  EXPECT_EQ(raw_status(head_reply), 408) << head_reply;
  EXPECT_EQ(raw_status(body_reply), 408) << body_reply;
  EXPECT_NE(head_reply.find("request_timeout"), std::string::npos) << head_reply;
  head.receive(3000);
  body.receive(3000);
  EXPECT_TRUE(head.closed_by_server());
  EXPECT_TRUE(body.closed_by_server());
  EXPECT_GE(took, std::chrono::seconds(3));
  EXPECT_LT(took, std::chrono::seconds(7));
  healthy();
  // The handler thread removes its partial upload once it sees the closed socket: after the reply.
  EXPECT_TRUE(eventually([&] { return store->count_partial_uploads() == 0; }));
  EXPECT_EQ(store->count_queued(), 0u);
}

}  // namespace
}  // namespace leukocrypt::service
