// The HTTP service core on 127.0.0.1 with a fake runner: round trip, per-client isolation, JSON
// errors for bad input (and the server keeps serving), limits, concurrency, restart recovery.
#include "service/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <sstream>
#include <thread>

#include "common/paths.h"
#include "server_fixture.h"

namespace leukocrypt::service {
namespace {

using namespace testing;

TEST_F(ServiceServer, RoundTrip) {
  start();
  auto c = client(port);
  auto r = c.Post("/v1/keys", auth(kAlice), make_keys("key-a"), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(body_json(r)["key_id"], "key-a");
  r = c.Post("/v1/keys", auth(kAlice), make_keys("key-a"), "application/octet-stream");
  EXPECT_EQ(r->status, 200) << r->body;  // idempotent
  r = c.Get("/v1/keys/key-a", auth(kAlice));
  EXPECT_EQ(r->status, 200);

  auto id = submit(c, kAlice, make_request("key-a", {1, 2, 3}));
  ASSERT_FALSE(id.empty());
  auto j = wait_job(c, kAlice, id);
  EXPECT_EQ(j["status"], "done") << j.dump();
  EXPECT_EQ(j["cells"], 3);
  EXPECT_TRUE(j["timings"].contains("run_seconds"));
  r = c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(testing::read_result(r->body), (std::vector<std::uint64_t>{2, 4, 6}));

  auto m = c.Get("/v1/model", auth(kAlice));
  EXPECT_EQ(body_json(m)["model_id"], "fake-model");
}

// A metric's value in Prometheus text ("name{labels} value" lines); -1 when absent.
double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// Jobs split into tasks through the whole server (two worker threads share one job's tasks), and
// GET /metrics in Prometheus text format counts what happened: jobs by state, failures by
// reason, task seconds, bytes in and out.
TEST_F(ServiceServer, SplitJobsAndMetrics) {
  runner.split = 3;
  auto o = options();
  o.workers = 2;
  start(o);
  auto c = client(port);
  auto m = c.Get("/metrics");  // no token: counts only
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(m->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_EQ(metric(m->body, "leukocrypt_queue_depth"), 0);
  EXPECT_NE(m->body.find("# TYPE leukocrypt_task_seconds histogram"), std::string::npos) << m->body;

  const std::string keys = make_keys("key-a"), request = make_request("key-a", {1, 2, 3, 4, 5});
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), keys, "application/octet-stream")->status, 201);
  auto id = submit(c, kAlice, request);
  auto j = wait_job(c, kAlice, id);
  ASSERT_EQ(j["status"], "done") << j.dump();
  EXPECT_EQ(j["info"]["tasks"], 3);
  auto r = c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice));
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(testing::read_result(r->body), (std::vector<std::uint64_t>{2, 4, 6, 8, 10}));
  EXPECT_EQ(runner.assemblies.load(), 1);
  auto refused = submit(c, kAlice, make_request("key-a", {0}));  // all-zero: refused_input
  EXPECT_EQ(wait_job(c, kAlice, refused)["status"], "failed");

  m = c.Get("/metrics");
  ASSERT_TRUE(m);
  const auto& t = m->body;
  EXPECT_EQ(metric(t, "leukocrypt_jobs{state=\"done\"}"), 1) << t;
  EXPECT_EQ(metric(t, "leukocrypt_jobs{state=\"failed\"}"), 1) << t;
  EXPECT_EQ(metric(t, "leukocrypt_jobs_failed{reason=\"refused_input\"}"), 1) << t;
  EXPECT_EQ(metric(t, "leukocrypt_queue_depth"), 0) << t;
  EXPECT_EQ(metric(t, "leukocrypt_tasks{state=\"running\"}"), 0) << t;
  EXPECT_EQ(metric(t, "leukocrypt_task_seconds_count"), 3) << t;  // the job's three tasks
  EXPECT_EQ(metric(t, "leukocrypt_task_seconds_bucket{le=\"+Inf\"}"), 3) << t;
  EXPECT_GE(metric(t, "leukocrypt_task_seconds_sum"), 0) << t;
  EXPECT_EQ(metric(t, "leukocrypt_job_run_seconds_count"), 1) << t;
  EXPECT_EQ(metric(t, "leukocrypt_done_cells"), 5) << t;
  EXPECT_EQ(metric(t, "leukocrypt_received_bytes_total"), double(keys.size() + request.size() + make_request("key-a", {0}).size())) << t;
  EXPECT_EQ(metric(t, "leukocrypt_sent_bytes_total"), double(r->body.size())) << t;
  EXPECT_EQ(metric(t, "leukocrypt_worker_threads"), 2) << t;
}

TEST_F(ServiceServer, TokensRequiredAndClientsIsolated) {
  start();
  auto c = client(port);
  expect_error(c.Get("/v1/model"), 401, "unauthorized");
  expect_error(c.Get("/v1/model", auth("not-a-valid-token-at-all")), 401);
  // The tokens file's optional expiry column: past -> 401 token_expired, future -> served.
  expect_error(c.Get("/v1/model", auth(kExpired)), 401, "token_expired");
  expect_error(c.Post("/v1/keys", auth(kExpired), make_keys("kc"), "application/octet-stream"), 401, "token_expired");
  EXPECT_EQ(c.Get("/v1/model", auth(kValidUntil2200))->status, 200);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  runner.delay_ms = 300;
  auto id = submit(c, kAlice, make_request("ka", {5}));
  // Bob cannot see Alice's job, its result, or her key, and cannot use her key id.
  expect_error(c.Get(("/v1/jobs/" + id).c_str(), auth(kBob)), 404, "job_not_found");
  expect_error(c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kBob)), 404, "job_not_found");
  expect_error(c.Get("/v1/keys/ka", auth(kBob)), 404, "key_not_found");
  expect_error(c.Post("/v1/jobs", auth(kBob), make_request("ka", {5}), "application/octet-stream"), 404,
               "key_not_found");
  // Alice's result is not ready yet: 409 with the state.
  expect_error(c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice)), 409, "job_not_finished");
  EXPECT_EQ(wait_job(c, kAlice, id)["status"], "done");
}

TEST_F(ServiceServer, BadInputGetsJsonErrorsAndServerKeepsServing) {
  start();
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  auto good = make_request("ka", {1, 2});

  expect_error(c.Post("/v1/jobs", auth(kAlice), good.substr(0, good.size() - 5), "application/octet-stream"), 400,
               "invalid_format");
  healthy();
  expect_error(c.Post("/v1/jobs", auth(kAlice), "\x01\x02garbage\xff", "application/octet-stream"), 400);
  healthy();
  expect_error(c.Post("/v1/jobs", auth(kAlice), "", "application/octet-stream"), 400);
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("no-such-key", {1}), "application/octet-stream"), 404,
               "key_not_found");
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("ka", {1}, 43), "application/octet-stream"), 400,
               "invalid_format");
  expect_error(c.Post("/v1/keys", auth(kAlice), make_keys("kb", 43), "application/octet-stream"), 400);
  expect_error(c.Post("/v1/keys", auth(kAlice), make_keys("ka").substr(0, 20), "application/octet-stream"), 400);
  // A key upload that is a request, and one that is a secret key.
  expect_error(c.Post("/v1/keys", auth(kAlice), good, "application/octet-stream"), 400, "invalid_format");
  wire::Container secret;
  secret.kind = wire::Kind::kSecretKey;
  secret.key_id = "ka";
  secret.params_id = testing::kParams;
  expect_error(c.Post("/v1/keys", auth(kAlice), wire::serialize(secret), "application/octet-stream"), 400,
               "secret_key_refused");
  // Same key id, different bytes.
  auto other = make_keys("ka");
  other[other.size() - 10] = 'z';
  expect_error(c.Post("/v1/keys", auth(kAlice), other, "application/octet-stream"), 400);
  // Oversized (limit 1 MiB).
  expect_error(c.Post("/v1/jobs", auth(kAlice), std::string(2 << 20, 'x'), "application/octet-stream"), 413,
               "payload_too_large");
  healthy();
  expect_error(c.Get("/v1/nothing-here", auth(kAlice)), 404);
  expect_error(c.Get("/v1/jobs/..%2F..%2Fetc", auth(kAlice)), 404);
  expect_error(c.Get("/v1/jobs/0123456789abcdef0123456789abcdef", auth(kAlice)), 404, "job_not_found");
  healthy();
  // Nothing bad was queued; a good request still works.
  EXPECT_EQ(store->count_queued(), 0u);
  auto id = submit(c, kAlice, good);
  EXPECT_EQ(wait_job(c, kAlice, id)["status"], "done");
}

TEST_F(ServiceServer, QueueLimits) {
  auto o = options();
  o.max_queued_per_client = 2;
  o.max_queued_jobs = 3;
  runner.delay_ms = 2000;
  start(std::move(o));
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  ASSERT_EQ(c.Post("/v1/keys", auth(kBob), make_keys("kb"), "application/octet-stream")->status, 201);
  submit(c, kAlice, make_request("ka", {1}));
  submit(c, kAlice, make_request("ka", {1}));
  expect_error(c.Post("/v1/jobs", auth(kAlice), make_request("ka", {1}), "application/octet-stream"), 429,
               "too_many_jobs");
  submit(c, kBob, make_request("kb", {1}));
  expect_error(c.Post("/v1/jobs", auth(kBob), make_request("kb", {1}), "application/octet-stream"), 503,
               "queue_full");
  runner.delay_ms = 0;
}

TEST_F(ServiceServer, EightConcurrentClients) {
  auto o = options();
  o.workers = 2;
  start(std::move(o));
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      std::string token = "client-token-" + std::to_string(i) + "-abcdefgh";
      auto c = client(port);
      auto r = c.Post("/v1/keys", auth(token), make_keys("k"), "application/octet-stream");
      if (!r || r->status != 201) return;
      std::vector<std::uint64_t> values{std::uint64_t(i + 1), std::uint64_t(100 + i)};  // 0 is refused
      auto id = submit(c, token, make_request("k", values));
      if (id.empty()) return;
      auto j = wait_job(c, token, id);
      auto res = c.Get(("/v1/jobs/" + id + "/result").c_str(), auth(token));
      if (!res || res->status != 200) return;
      ok[i] = testing::read_result(res->body) == std::vector<std::uint64_t>{2u * (i + 1), 2u * (100 + i)};
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(ok[i]) << "client " << i;
}

TEST_F(ServiceServer, StopWhileRunningThenRestartCompletes) {
  runner.delay_ms = 1500;
  start();
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  auto id = submit(c, kAlice, make_request("ka", {21}));
  for (int i = 0; i < 200 && store->find_job("alice", id)->state != JobState::kRunning; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(store->find_job("alice", id)->state, JobState::kRunning);
  server->stop();
  server.reset();
  store.reset();
  EXPECT_EQ(runner.runs, 0);

  runner.delay_ms = 0;
  store = std::make_unique<JobStore>(leukocrypt::testing::test_store(dir / "jobs.db"));
  start();
  // SQLite: left running, re-queued at this start. PostgreSQL: the stopping worker released it.
  EXPECT_EQ(server->recovered_jobs(), store->shared() ? 0u : 1u);
  auto c2 = client(port);
  auto j = wait_job(c2, kAlice, id);
  EXPECT_EQ(j["status"], "done");
  EXPECT_EQ(j["attempts"], 2);
  auto r = c2.Get(("/v1/jobs/" + id + "/result").c_str(), auth(kAlice));
  EXPECT_EQ(testing::read_result(r->body), (std::vector<std::uint64_t>{42}));
}

TEST_F(ServiceServer, StreamedUploadsLargerThanOneChunk) {
  auto o = options();
  o.max_request_bytes = 16 << 20;
  o.max_cells_per_job = o.max_queued_cells_per_client = 1 << 20;
  o.max_batches_per_job = 1000;
  start(std::move(o));
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  // 200,000 cells x 16 bytes: ~3 MiB, many 64 KiB pieces, several 1 MiB server buffers.
  std::vector<std::uint64_t> values(200000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = i * 7 + 1;
  auto body = make_request("ka", values);
  ASSERT_GT(body.size(), std::size_t(3) << 20);
  for (bool sized : {true, false}) {
    auto r = post_streamed(c, kAlice, body, sized);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 202) << r->body;
    auto j = nlohmann::json::parse(r->body);
    EXPECT_EQ(j["request_bytes"], body.size());
    auto done = wait_job(c, kAlice, j["job_id"]);
    ASSERT_EQ(done["status"], "done") << done.dump();
    auto res = c.Get(("/v1/jobs/" + j["job_id"].get<std::string>() + "/result").c_str(), auth(kAlice));
    ASSERT_TRUE(res);
    auto out = testing::read_result(res->body);
    ASSERT_EQ(out.size(), values.size());
    for (std::size_t i = 0; i < values.size(); i += 997) EXPECT_EQ(out[i], 2 * values[i]);
    EXPECT_EQ(out.back(), 2 * values.back());
  }
  EXPECT_EQ(store->count_partial_uploads(), 0u);
}

TEST_F(ServiceServer, OversizedStreamedUploadIs413AndServerKeepsServing) {
  start();  // limit 1 MiB
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  std::vector<std::uint64_t> values(150000);  // ~2.3 MiB
  auto big = make_request("ka", values);
  for (bool sized : {true, false}) {
    auto c2 = client(port);
    expect_error(post_streamed(c2, kAlice, big, sized), 413, "payload_too_large");
    healthy();
  }
  // The advertised limit lets clients check before sending.
  auto h = body_json(c.Get("/healthz"));
  EXPECT_EQ(h["max_request_bytes"], 1u << 20);
  EXPECT_EQ(store->count_queued(), 0u);
  EXPECT_TRUE(eventually([&] { return store->count_partial_uploads() == 0; }));
  // A request within the limit still works on a fresh connection.
  auto id = submit(c, kAlice, make_request("ka", {4, 5}));
  EXPECT_EQ(wait_job(c, kAlice, id)["status"], "done");
}

TEST_F(ServiceServer, ClientDisconnectMidUploadLeavesNoJobAndNoFile) {
  start();
  auto c = client(port);
  ASSERT_EQ(c.Post("/v1/keys", auth(kAlice), make_keys("ka"), "application/octet-stream")->status, 201);
  auto body = make_request("ka", std::vector<std::uint64_t>(40000, 3));  // ~640 KiB, under the limit
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string head = "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + std::string(kAlice) +
                     "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  std::string sent = head + body.substr(0, body.size() / 2);
  ASSERT_EQ(::send(fd, sent.data(), sent.size(), MSG_NOSIGNAL), static_cast<ssize_t>(sent.size()));
  // The server is receiving: the upload file exists. Then the client goes away mid-body.
  EXPECT_TRUE(eventually([&] { return store->count_partial_uploads() == 1; }));
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return store->count_partial_uploads() == 0; }));
  EXPECT_EQ(store->count_queued(), 0u);
  healthy();
  auto id = submit(c, kAlice, make_request("ka", {8}));
  auto j = wait_job(c, kAlice, id);
  EXPECT_EQ(j["status"], "done");
  EXPECT_EQ(store->count_queued(), 0u);
}

TEST_F(ServiceServer, RestartRemovesUploadsAKilledServerLeft) {
  write_file_atomic(store->blob_dir() / "upload-0123456789abcdef.part", "half an upload");  // as a kill leaves it
  ASSERT_EQ(store->count_partial_uploads(), 1u);
  start();
  EXPECT_EQ(store->count_partial_uploads(), 0u);
}

}  // namespace
}  // namespace leukocrypt::service
