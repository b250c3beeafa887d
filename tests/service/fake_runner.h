// A JobRunner for testing the service core without the encrypted model: keys are eval-keys
// containers with params id kParams and one blob; a request carries one 8-byte blob per cell
// (a little-endian integer); the result holds each integer doubled. Validation mirrors the real
// runner's duties (kind, key id, params id, model id, sizes; a zero value stands for a ciphertext
// row that is not full-width: RefusedInput), so the server's error paths are exercised the same
// way. The card has slots_per_batch = kSlots.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "service/job_runner.h"
#include "service/job_store.h"
#include "service/worker.h"
#include "service/wire/container.h"

namespace leukocrypt::service::testing {

inline constexpr std::uint64_t kParams = 42;
inline constexpr const char* kModel = "fake-model";
inline constexpr std::size_t kSlots = 1024;

inline std::string make_keys(const std::string& key_id, std::uint64_t params = kParams) {
  wire::Container c;
  c.kind = wire::Kind::kEvalKeys;
  c.params_id = params;
  c.key_id = key_id;
  c.blobs = {std::string(64, 'k')};
  return wire::serialize(c);
}

inline std::string make_request(const std::string& key_id, const std::vector<std::uint64_t>& values,
                                std::uint64_t params = kParams) {
  wire::Container c;
  c.kind = wire::Kind::kRequest;
  c.params_id = params;
  c.key_id = key_id;
  c.model_id = kModel;
  c.cells = static_cast<std::uint32_t>(values.size());
  for (auto v : values) {
    std::string b(8, '\0');
    std::memcpy(b.data(), &v, 8);
    c.blobs.push_back(b);
  }
  return wire::serialize(c);
}

inline std::vector<std::uint64_t> read_result(const std::string& bytes) {
  auto v = wire::parse_as(bytes, wire::Kind::kResult, "result");
  std::vector<std::uint64_t> out;
  for (auto b : v.blobs) {
    std::uint64_t x = 0;
    std::memcpy(&x, b.data(), 8);
    out.push_back(x);
  }
  return out;
}

// The worker claims the next job and runs it: job `id` is done on its first attempt with `expected`
// as its result, and nothing is left to claim. (Call under ASSERT_NO_FATAL_FAILURE.)
inline void expect_claimed_and_done(JobStore& store, Worker& worker, const std::string& id,
                                    const std::vector<std::uint64_t>& expected) {
  auto job = worker.claim();
  ASSERT_TRUE(job);
  worker.run(*job);
  auto done = store.get_job(id);
  ASSERT_EQ(done->state, JobState::kDone) << done->error;
  EXPECT_EQ(done->attempts, 1);
  EXPECT_EQ(read_result(store.read_result(id)), expected);
  EXPECT_FALSE(worker.claim());
}

// The header of the fake's results (and task parts) for request `h`.
inline wire::Container result_for(const wire::ContainerHeader& h) {
  wire::Container c;
  c.kind = wire::Kind::kResult;
  c.params_id = h.params_id;
  c.key_id = h.key_id;
  c.model_id = h.model_id;
  c.cells = h.cells;
  return c;
}

// The worker and task tests' job: alice registers key "ka" and queues one cell per value with it.
inline std::string add_job(JobStore& s, const std::vector<std::uint64_t>& values) {
  s.put_key("alice", {"ka", kParams}, make_keys("ka"));
  return s.create_job("alice", {"ka", kParams, kModel, static_cast<std::uint32_t>(values.size())},
                      make_request("ka", values));
}

class FakeRunner : public JobRunner {
 public:
  std::atomic<int> delay_ms{0};
  std::atomic<int> validate_delay_ms{0};
  std::atomic<int> runs{0};

  nlohmann::json model_card() const override {
    return {{"model_id", kModel}, {"params_id", std::to_string(kParams)}, {"classes", {"all", "hem"}}, {"slots_per_batch", kSlots}};
  }
  KeyInfo inspect_keys(std::string_view bytes) const override {
    auto v = wire::parse_as(bytes, wire::Kind::kEvalKeys, "key upload");
    require<FormatError>(v.params_id == kParams, "key upload: parameter id " + std::to_string(v.params_id) +
                                                     " does not match the model's " + std::to_string(kParams));
    require<FormatError>(v.blobs.size() == 1 && v.blobs[0].size() == 64, "key upload: wrong key size");
    return {v.key_id, v.params_id};
  }
  RequestInfo inspect_request(const wire::ContainerFile& f, const KeyInfo& key) const override {
    const auto& v = f.header();
    require<FormatError>(v.kind == wire::Kind::kRequest, "request body: not a request");
    require<FormatError>(v.key_id == key.key_id, "request: key id mismatch");
    require<FormatError>(v.params_id == key.params_id, "request: parameter id " + std::to_string(v.params_id) +
                                                           " does not match the key's " + std::to_string(key.params_id));
    require<FormatError>(v.model_id == kModel, "request: model id '" + v.model_id + "' is not served here");
    require<FormatError>(v.cells >= 1 && f.blob_count() == v.cells, "request: blob count != cells");
    for (std::size_t i = 0; i < f.blob_count(); ++i)
      require<FormatError>(f.blob_size(i) == 8, "request: ciphertext size");
    for (std::size_t i = 0; i < f.blob_count(); ++i)
      if (f.read_blob(i) == std::string(8, '\0')) throw RefusedInput("request: ciphertext " + std::to_string(i) + " is all zero");
    std::this_thread::sleep_for(std::chrono::milliseconds(validate_delay_ms.load()));
    return {v.key_id, v.params_id, v.model_id, v.cells};
  }
  RunOutput run(std::string_view, const wire::ContainerFile& f,
                const std::function<void(double)>& progress) const override {
    const auto& v = f.header();
    int steps = 10;
    for (int i = 0; i < steps; ++i) {
      progress(double(i) / steps);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load() / steps));
    }
    const_cast<FakeRunner*>(this)->runs++;
    auto c = result_for(v);
    for (std::size_t i = 0; i < f.blob_count(); ++i) {
      auto b = f.read_blob(i);
      std::uint64_t x = 0;
      std::memcpy(&x, b.data(), 8);
      x *= 2;
      std::string o(8, '\0');
      std::memcpy(o.data(), &x, 8);
      c.blobs.push_back(o);
    }
    return {wire::serialize(c), {{"fake", 0.0}}, {}};
  }

  // Jobs split into `split` tasks (at most one per cell): task t doubles the cells i with
  // i % count == t; assemble interleaves the parts back and counts its calls.
  std::atomic<int> split{1};
  std::atomic<int> task_runs{0};
  mutable std::atomic<int> assemblies{0};

  std::size_t task_count(const wire::ContainerFile& f) const override {
    return std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(split.load()), f.blob_count()));
  }
  RunOutput run_task(const std::string& key_ref, const std::function<std::string()>& load_keys,
                     const wire::ContainerFile& f, std::size_t index, std::size_t count,
                     const std::function<void(double)>& progress) const override {
    if (count == 1) return JobRunner::run_task(key_ref, load_keys, f, index, count, progress);
    require(index < count && count == task_count(f), "fake runner: task " + std::to_string(index) + " of " +
                                                         std::to_string(count) + " does not fit the request");
    RunOutput whole = run(load_keys(), f, progress);
    const_cast<FakeRunner*>(this)->runs--;
    const_cast<FakeRunner*>(this)->task_runs++;
    auto v = wire::parse_as(whole.result, wire::Kind::kResult, "fake result");
    wire::Container part;
    part.kind = wire::Kind::kResult;
    part.key_id = v.key_id;
    part.params_id = v.params_id;
    part.meta = nlohmann::json{{"task", index}}.dump();
    for (std::size_t i = index; i < v.blobs.size(); i += count) part.blobs.emplace_back(v.blobs[i]);
    return {wire::serialize(part), {{"fake", 1.0}}, {{"task", index}}};
  }
  std::string assemble(const wire::ContainerFile& f, const std::vector<std::string>& parts) const override {
    if (parts.size() == 1) return parts[0];
    assemblies++;
    const auto& h = f.header();
    std::vector<wire::ContainerView> views;
    for (std::size_t t = 0; t < parts.size(); ++t) {
      views.push_back(wire::parse_as(parts[t], wire::Kind::kResult, "task part"));
      require<FormatError>(nlohmann::json::parse(views.back().meta).value("task", std::size_t(-1)) == t,
                           "fake runner: parts out of order");
    }
    auto c = result_for(h);
    for (std::size_t i = 0; i < f.blob_count(); ++i) c.blobs.emplace_back(views.at(i % parts.size()).blobs.at(i / parts.size()));
    return wire::serialize(c);
  }
};

}  // namespace leukocrypt::service::testing
