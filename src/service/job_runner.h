// What the service runs: a pluggable interface so the HTTP/storage core is independent of the
// model. The production runner (HeJobRunner) evaluates the encrypted network with lc_nn's BFV
// backend; tests may plug in their own. Every method gets untrusted bytes and must validate them
// fully (throwing FormatError / InvalidArgument with a message for the client) — the service calls
// inspect_* BEFORE anything is stored or queued.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "service/wire/container.h"

namespace leukocrypt::service {

// Well-formed input that the service still refuses (ciphertext rows that are not full-width):
// the job fails with code "refused_input" and GET /v1/jobs/{id}/result answers 422.
class RefusedInput : public FormatError {
 public:
  using FormatError::FormatError;
};

// What inspect_keys learned from an uploaded evaluation-key bundle.
struct KeyInfo {
  std::string key_id;
  std::uint64_t params_id = 0;
};

// What inspect_request learned from an uploaded request.
struct RequestInfo {
  std::string key_id;
  std::uint64_t params_id = 0;
  std::string model_id;
  std::uint32_t cells = 0;
};

struct RunOutput {
  std::string result;                                   // serialized result container
  std::vector<std::pair<std::string, double>> stages;   // per-stage wall seconds
  nlohmann::json info = nlohmann::json::object();       // e.g. noise budget, bytes
};

class JobRunner {
 public:
  virtual ~JobRunner() = default;

  // GET /v1/model: input size, classes, parameters (with params id), model id/version, metrics.
  virtual nlohmann::json model_card() const = 0;

  // Validates an evaluation-key upload completely (envelope, kind, params id equal to the model's,
  // every key coefficient in range). Throws FormatError/InvalidArgument.
  virtual KeyInfo inspect_keys(std::string_view bytes) const = 0;

  // Validates a request completely against the registered key (key id, params id, model id, cell
  // count, number/sizes/ranges of ciphertexts). The request is a file (an upload streamed to disk,
  // envelope already checked by ContainerFile::open); blobs are read one at a time, so validation
  // memory does not grow with the request. Throws FormatError/InvalidArgument, RefusedInput.
  // Runs on the server's validation threads, never on an HTTP thread.
  virtual RequestInfo inspect_request(const wire::ContainerFile& request, const KeyInfo& key) const = 0;

  // Runs one job, reading the request's ciphertexts from the file as it needs them.
  // `progress(fraction)` may be called from the running thread. Throws on failure.
  virtual RunOutput run(std::string_view eval_keys, const wire::ContainerFile& request,
                        const std::function<void(double)>& progress) const = 0;

  // run() with the keys loaded by `load_keys` only when needed: a runner may keep what it prepared
  // from the keys of `key_ref` across jobs. key_ref names one registered key set for good
  // ("<owner>/<key id>": the store never registers the same owner and key id with other keys).
  // Default: load and run.
  virtual RunOutput run_with_keys(const std::string& key_ref, const std::function<std::string()>& load_keys,
                                  const wire::ContainerFile& request,
                                  const std::function<void(double)>& progress) const {
    (void)key_ref;
    return run(load_keys(), request, progress);
  }

  // Jobs split into independent tasks (throughput requests: one per batch and plaintext prime), so
  // several workers finish one job together. How many tasks `request` splits into; 1 (the
  // default) runs the whole job as one (run_with_keys).
  virtual std::size_t task_count(const wire::ContainerFile& request) const {
    (void)request;
    return 1;
  }
  // Runs task `index` of `count` (count as task_count said) and returns its part of the result
  // (opaque bytes that only assemble reads) with its stages and info.
  virtual RunOutput run_task(const std::string& key_ref, const std::function<std::string()>& load_keys,
                             const wire::ContainerFile& request, std::size_t index, std::size_t count,
                             const std::function<void(double)>& progress) const {
    require(index == 0 && count == 1, "this runner does not split jobs into tasks");
    return run_with_keys(key_ref, load_keys, request, progress);
  }
  // Joins the parts of every task, in task order, into the job's result container. The parts come
  // back from the payload store: validate them like any stored bytes.
  virtual std::string assemble(const wire::ContainerFile& request, const std::vector<std::string>& parts) const {
    (void)request;
    require(parts.size() == 1, "this runner does not split jobs into tasks");
    return parts[0];
  }
};

}  // namespace leukocrypt::service
