// HTTP client for the provider's screening service (docs/API.md): register evaluation keys,
// submit an encrypted request, poll, fetch the encrypted result. Every call has a timeout and
// every wait is bounded; server JSON errors become ServiceError (status, code, message).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"

namespace httplib {
class Client;
}

namespace leukocrypt::client {

// The server answered with an error (4xx/5xx) — carries its JSON error code.
class ServiceError : public StatusError {
 public:
  using StatusError::StatusError;
};

struct ClientOptions {
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds io_timeout{300};  // per read/write on the socket (large uploads)
  // https: the server certificate is always verified, against this CA bundle (PEM) when given,
  // else the system's trusted CAs.
  std::string ca_file;
};

class ServiceClient {
 public:
  // url: "http://host:port" or "https://host:port" (certificate and host name verified).
  // token: the API bearer token.
  ServiceClient(const std::string& url, std::string token, ClientOptions options = {});
  ~ServiceClient();
  ServiceClient(ServiceClient&&) noexcept;
  ServiceClient& operator=(ServiceClient&&) noexcept;

  nlohmann::json health();
  nlohmann::json model_card();
  // Sees every piece of a streamed upload as it goes to the socket (e.g. to hash it in the same pass).
  using PieceObserver = std::function<void(const char* data, std::size_t n)>;
  using UploadProgress = std::function<void(std::uint64_t sent, std::uint64_t total)>;
  // POST /v1/keys. Returns the server's JSON ({key_id, params_id, bytes, created}).
  nlohmann::json register_keys(const std::string& eval_keys);
  // POST /v1/keys streaming eval.key from disk (with Galois keys it is gigabytes: never loaded into
  // memory). Checks the server's advertised limit first (GET /healthz max_key_bytes): a key above
  // it throws ServiceError 413 naming the limit without uploading anything.
  nlohmann::json register_keys_file(const std::filesystem::path& eval_keys, const UploadProgress& on_progress = {},
                                    const PieceObserver& on_piece = {});
  // GET /v1/keys/<id>: whether this client already registered the key (keys are registered once;
  // with Galois keys eval.key is hundreds of megabytes).
  bool key_registered(const std::string& key_id);
  // POST /v1/jobs. Returns the job id. The body is streamed in 1 MiB pieces with Content-Length
  // (a multi-gigabyte request never goes to the socket as one write). on_progress(sent, total),
  // if given, sees the upload advance; an exception it throws stops the upload (IoError).
  std::string submit(const std::string& request, const UploadProgress& on_progress = {});
  // POST /v1/jobs streaming a request file from disk (never loaded into memory). Before sending,
  // checks the server's advertised limit (GET /healthz max_request_bytes): a request above it
  // throws ServiceError 413 without uploading anything.
  std::string submit_file(const std::filesystem::path& request, const UploadProgress& on_progress = {});
  nlohmann::json status(const std::string& job_id);
  // DELETE /v1/jobs/<id>: the provider drops the job, its request and result (a running job stops
  // at its next progress report). Returns the server's JSON ({job_id, deleted, was}).
  nlohmann::json delete_job(const std::string& job_id);
  std::string result(const std::string& job_id);
  // Polls until the job is done (returns its final status JSON) or failed (throws ServiceError),
  // or `timeout` passes (throws IoError). on_status sees every poll. A 503 (the service's job store
  // restarting) is polled through until the timeout.
  nlohmann::json wait(const std::string& job_id, std::chrono::seconds timeout,
                      const std::function<void(const nlohmann::json&)>& on_status = {});

  const std::string& url() const { return url_; }
  // The server's answer to the last successful submit (job_id, request_bytes, receive_seconds,
  // status "validating", ...).
  const nlohmann::json& last_submit() const { return last_submit_; }

 private:
  using Reader = std::function<void(std::uint64_t offset, char* dst, std::size_t n)>;
  // POSTs `size` bytes from `read` to `path` in 1 MiB pieces; returns the answer's JSON when its
  // status is `expect` (or 200 when expect is 201: the same key again).
  nlohmann::json post_stream(const std::string& path, int expect, std::uint64_t size, const Reader& read,
                             const UploadProgress& on_progress, const PieceObserver& on_piece);
  // post_stream from bytes in memory (in pieces: cpp-httplib fails to send one string body above 2 GiB).
  nlohmann::json post_bytes(const std::string& path, int expect, const std::string& bytes,
                            const UploadProgress& on_progress);
  // post_stream from a file, after checking its size against the /healthz field `limit_field`.
  nlohmann::json post_file(const std::string& path, int expect, const std::filesystem::path& file,
                           const std::string& limit_field, const std::string& limit_option,
                           const UploadProgress& on_progress, const PieceObserver& on_piece);
  std::string job_id_from(const nlohmann::json& answer);

  std::string url_;
  std::string token_;
  nlohmann::json last_submit_ = nlohmann::json::object();
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace leukocrypt::client
