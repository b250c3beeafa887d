// HTTP screening service (see server.h).
#include "service/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "common/error.h"
#include "common/http_listen.h"
#include "common/paths.h"
#include "common/timer.h"
#include "service/disk_writer.h"
#include "service/worker.h"
#include "service/wire/container.h"

namespace leukocrypt::service {

namespace {

// Upper bounds of the task-seconds histogram (a tiny test task ~0.1 s, a C-NMC prime ~10-30 s).
constexpr double kTaskSecondsBuckets[] = {0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600};

constexpr int kMaxAttempts = 3;  // a job that crashed the server this often is failed, not retried
constexpr const char* kIdPattern = "([0-9A-Za-z_-]{1,64})";

// An error with an HTTP status and a stable machine-readable code.
struct HttpError : Error {
  HttpError(int s, std::string c, const std::string& m) : Error(m), status(s), code(std::move(c)) {}
  int status;
  std::string code;
};

const char* default_code(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 411: return "length_required";
    case 413: return "payload_too_large";
    case 422: return "unprocessable";
    case 429: return "too_many_jobs";
    case 503: return "queue_full";
    case 507: return "insufficient_storage";
    default: return status >= 500 ? "internal_error" : "error";
  }
}

void json_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  nlohmann::json j;
  j["error"] = {{"status", status}, {"code", code}, {"message", message}};
  res.status = status;
  res.set_content(j.dump() + "\n", "application/json");
}

void json_reply(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(2) + "\n", "application/json");
}

// Runs a handler, mapping our typed exceptions to JSON errors. Untrusted-input errors are 400;
// anything unexpected is a 500 that does not echo internals beyond the message.
template <class F>
void guarded(httplib::Response& res, F&& f) {
  try {
    f();
  } catch (const HttpError& e) {
    json_error(res, e.status, e.code, e.what());
  } catch (const StorageFull& e) {
    json_error(res, 507, "insufficient_storage", e.what());
  } catch (const ConnectionLost& e) {
    // The job store is restarting or cut off: nothing was stored; the same request may be retried.
    res.set_header("Retry-After", "1");
    json_error(res, 503, "store_unavailable", e.what());
  } catch (const FormatError& e) {
    json_error(res, 400, "invalid_format", e.what());
  } catch (const SecurityError& e) {
    json_error(res, 400, "insecure_parameters", e.what());
  } catch (const InvalidArgument& e) {
    json_error(res, 400, "invalid_argument", e.what());
  } catch (const std::bad_alloc&) {
    json_error(res, 503, "out_of_memory", "server out of memory");
  } catch (const std::exception& e) {
    json_error(res, 500, "internal_error", e.what());
  }
}

std::string limit_message(std::uint64_t limit, const char* option) {
  return "request body exceeds the server's size limit of " + std::to_string(limit) + " bytes (leukocrypt serve " +
         option + ")";
}

bool is_chunked(const httplib::Request& req) {
  return req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
}

// The declared body length (0 for chunked bodies), refusing (413) one above the limit before
// anything is read.
std::uint64_t check_declared_length(const httplib::Request& req, std::uint64_t limit, const char* option) {
  if (is_chunked(req)) return 0;
  if (!req.has_header("Content-Length"))
    throw HttpError(411, "length_required", req.path + " needs Content-Length or chunked transfer encoding");
  const auto text = req.get_header_value("Content-Length");
  std::uint64_t declared = 0;
  try {
    std::size_t used = 0;
    declared = std::stoull(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    throw HttpError(400, "bad_request", "Content-Length '" + text + "' is not a number");
  }
  if (declared > limit) throw HttpError(413, "payload_too_large", limit_message(limit, option));
  return declared;
}

// How much of a refused body is still read and dropped, so that a client that only reads the
// answer after sending everything (most HTTP libraries) sees the 413 rather than a reset. Beyond
// this the connection is closed (curl's Expect: 100-continue sees the answer before sending).
constexpr std::uint64_t kDrainBytes = std::uint64_t(128) << 20;

// Streams the body into `sink`; returns its size. A chunked body that passes the limit stops being
// stored at once (413), and is dropped up to kDrainBytes more. A body that ends early (client
// gone, timeout) is a 400; whatever the sink kept is the caller's to drop.
template <class Sink>
std::uint64_t receive_body(const httplib::Request& req, const httplib::ContentReader& reader, std::uint64_t limit,
                           const char* option, std::uint64_t declared, Sink&& sink) {
  const bool chunked = is_chunked(req);
  bool too_large = false;
  std::uint64_t size = 0, dropped = 0;
  bool ok = reader([&](const char* data, std::size_t n) {
    if (too_large || size + n > limit) {
      too_large = true;
      dropped += n;
      return dropped <= kDrainBytes;
    }
    sink(data, n);
    size += n;
    return true;
  });
  if (too_large) throw HttpError(413, "payload_too_large", limit_message(limit, option));
  if (!ok || (!chunked && size != declared))
    throw HttpError(400, "truncated_upload",
                    "request body ended after " + std::to_string(size) + " bytes" +
                        (chunked ? std::string() : " of the " + std::to_string(declared) + " declared"));
  return size;
}

// A request refused before its body was read: read (and drop) it when it is at most `drain`
// bytes, so that a client that is still sending sees the answer rather than a reset; close the
// connection.
void discard_body(const httplib::Request& req, const httplib::ContentReader& reader, httplib::Response& res,
                  std::uint64_t drain) {
  res.set_header("Connection", "close");
  if (!is_chunked(req)) {
    // (httplib would read a body above its own limit to the end before giving up.)
    std::uint64_t declared = 0;
    try {
      declared = std::stoull(req.get_header_value("Content-Length"));
    } catch (const std::exception&) {
      return;
    }
    if (declared > drain) return;
  }
  std::uint64_t seen = 0;
  try {
    reader([&](const char*, std::size_t n) {
      seen += n;
      return seen <= drain;
    });
  } catch (...) {
  }
}

// Runs a streamed-body handler: on an error before the body was read, drains what is cheap to
// drain (little for a caller without a valid token); mid-body, closes the connection.
enum class Body { kUnread, kUnauthenticated, kReading, kRead };
template <class F>
void guarded_streamed(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                      std::uint64_t small_body, F&& f) {
  Body body = Body::kUnauthenticated;
  guarded(res, [&] {
    try {
      f(body);
    } catch (...) {
      if (body == Body::kUnauthenticated) discard_body(req, reader, res, small_body);
      if (body == Body::kUnread) discard_body(req, reader, res, kDrainBytes);
      if (body == Body::kReading) res.set_header("Connection", "close");  // the stream is mid-body
      throw;
    }
  });
}

bool is_streamed_route(const httplib::Request& req) {
  return req.method == "POST" && (req.path == "/v1/jobs" || req.path == "/v1/keys");
}

// Maps an error from the full request check to the job's failure code.
std::string failure_code(const std::exception& e) {
  if (dynamic_cast<const RefusedInput*>(&e)) return "refused_input";
  if (dynamic_cast<const FormatError*>(&e) || dynamic_cast<const InvalidArgument*>(&e) ||
      dynamic_cast<const SecurityError*>(&e))
    return "invalid_request";
  return "internal_error";
}

}  // namespace

namespace {

// Plain HTTP, or HTTPS (cpp-httplib over OpenSSL) when a certificate and key are given.
std::unique_ptr<httplib::Server> make_http_server(const ServerOptions& o) {
  require(o.tls_cert.empty() == o.tls_key.empty(), "TLS needs both a certificate and a private key");
  if (o.tls_cert.empty()) return std::make_unique<httplib::Server>();
  for (const auto& f : {o.tls_cert, o.tls_key}) (void)read_file(f, 1 << 20);  // exists, readable: clear errors
  require_private_file(o.tls_key);
  auto s = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
  if (!s->is_valid())
    throw IoError("cannot use TLS certificate '" + o.tls_cert + "' with key '" + o.tls_key +
                  "' (not PEM, or the key does not match the certificate)");
  return s;
}

}  // namespace

Server::Server(ServerOptions options, JobStore& store, const JobRunner& runner)
    : opt_(std::move(options)), store_(store), runner_(runner), http_(make_http_server(opt_)) {
  // workers == 0: an API-only node; `leukocrypt worker` processes run the jobs.
  require(opt_.workers >= 1 || store_.shared(), "workers must be at least 1 (0 needs a shared store: PostgreSQL)");
  require(opt_.validators >= 1, "validators must be at least 1");
  require(opt_.lease_seconds >= 1, "the lease must be at least 1 s");
  node_id_ = default_worker_id();
  task_seconds_buckets_.assign(std::size(kTaskSecondsBuckets), 0);
  require(opt_.http_threads >= 1, "http threads must be at least 1");
  require(opt_.max_queued_jobs >= 1 && opt_.max_queued_per_client >= 1, "queue limits must be at least 1");
  require(opt_.max_cells_per_job >= 1 && opt_.max_batches_per_job >= 1 && opt_.max_queued_cells_per_client >= 1 &&
              opt_.max_keys_per_client >= 1,
          "per-job and per-client limits must be at least 1");
  require(!opt_.require_auth || opt_.tokens.size() > 0, "authentication is required but no tokens were given");
  slots_per_batch_ = runner_.model_card().value("slots_per_batch", std::size_t(0));
  install_routes();
}

Server::~Server() { stop(); }

std::string Server::client_of(const std::string& authorization) const {
  if (!opt_.require_auth) return "anonymous";
  auto match = opt_.tokens.match_header(authorization);
  if (!match) throw HttpError(401, "unauthorized", "missing or unknown API token (Authorization: Bearer <token>)");
  if (match->expired_at(TokenTable::Clock::now()))
    throw HttpError(401, "token_expired",
                    "API token expired at " + TokenTable::format_utc(*match->expires) + " (ask the operator for a new one)");
  return match->client;
}

void Server::install_routes() {
  auto& s = *http_;
  const std::size_t http_threads = opt_.http_threads;
  s.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  s.set_payload_max_length(std::max(opt_.max_request_bytes, opt_.max_key_bytes));
  s.set_read_timeout(opt_.read_timeout_s, 0);
  s.set_write_timeout(opt_.read_timeout_s, 0);
  s.set_keep_alive_max_count(100);
  // An idle keep-alive connection holds an HTTP thread too: no longer than a silent sender.
  s.set_keep_alive_timeout(std::min(opt_.read_timeout_s, 5));

  // Only the two upload routes stream their bodies; httplib would buffer any other route's body
  // whole before the handler runs, so those are refused from the headers (chunked included).
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    std::uint64_t declared = 0;
    try {
      if (req.has_header("Content-Length")) declared = std::stoull(req.get_header_value("Content-Length"));
    } catch (const std::exception&) {
      return httplib::Server::HandlerResponse::Unhandled;  // httplib answers 400
    }
    if (deadline_) deadline_->head_received(req.remote_addr, req.remote_port, declared);
    if (is_streamed_route(req)) return httplib::Server::HandlerResponse::Unhandled;
    if (!is_chunked(req) && declared <= opt_.max_body_bytes) return httplib::Server::HandlerResponse::Unhandled;
    json_error(res, 413, "payload_too_large",
               req.method + " " + req.path + " takes at most " + std::to_string(opt_.max_body_bytes) +
                   " bytes of body (and no chunked body)");
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });

  // The request is read and handled: the deadline's clock stops while the response is written
  // (bounded per write by the write timeout) and restarts for the next request on the connection.
  s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    if (deadline_) deadline_->handled(req.remote_addr, req.remote_port);
  });
  s.set_logger([this](const httplib::Request& req, const httplib::Response&) {
    if (deadline_) deadline_->responded(req.remote_addr, req.remote_port);
  });

  // Every error httplib produces itself (no route, 413, malformed HTTP) also gets a JSON body.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                      : res.status == 413 ? "request body exceeds the server's size limit"
                                          : "HTTP error " + std::to_string(res.status);
    // httplib caps form-encoded bodies at 8 KiB: curl's default for --data-binary.
    if (res.status == 413 && req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0)
      msg = "form-encoded bodies are limited to 8 KiB: send containers with Content-Type: application/octet-stream";
    json_error(res, res.status, default_code(res.status), msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    json_error(res, 500, "internal_error", "unexpected server error");
  });

  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      json_reply(res, 200, {{"status", "ok"},
                            {"queued", store_.count_queued()},
                            {"workers", opt_.workers},
                            {"max_request_bytes", opt_.max_request_bytes},
                            {"max_key_bytes", opt_.max_key_bytes},
                            {"max_cells_per_job", opt_.max_cells_per_job}});
    });
  });

  // Prometheus text format, no token (counts only, nothing per client): scrape it from the
  // operator's network, not the internet.
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] { res.set_content(metrics_text(), "text/plain; version=0.0.4; charset=utf-8"); });
  });

  s.Get("/v1/model", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      client_of(req.get_header_value("Authorization"));
      json_reply(res, 200, runner_.model_card());
    });
  });
  install_key_routes();
  install_job_routes();
}

// Keys are read into memory (they are parsed whole), but only after the token is checked and the
// declared length is within --max-key-mb; a chunked body is cut at the limit.
void Server::install_key_routes() {
  auto& s = *http_;
  s.Post("/v1/keys", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded_streamed(req, res, reader, opt_.max_body_bytes, [&](Body& body) {
      auto owner = client_of(req.get_header_value("Authorization"));
      body = Body::kUnread;
      const auto declared = check_declared_length(req, opt_.max_key_bytes, "--max-key-mb");
      std::string bytes;
      bytes.reserve(static_cast<std::size_t>(declared));
      body = Body::kReading;
      receive_body(req, reader, opt_.max_key_bytes, "--max-key-mb", declared,
                   [&](const char* d, std::size_t n) { bytes.append(d, n); });
      body = Body::kRead;
      bytes_in_ += bytes.size();
      // Refuse secret keys by their envelope before anything else looks at them.
      auto view = wire::parse(bytes, "key upload");
      if (view.kind == wire::Kind::kSecretKey)
        throw HttpError(400, "secret_key_refused",
                        "this is a secret key: it must never leave the key holder; upload eval.key instead");
      if (view.kind != wire::Kind::kEvalKeys)
        throw HttpError(400, "invalid_format",
                        std::string("key upload holds ") + wire::to_string(view.kind) + ", expected eval-keys");
      KeyInfo info = runner_.inspect_keys(bytes);
      JobStore::PutKeyResult r;
      {
        std::lock_guard lock(submit_mu_);
        if (!store_.find_key(owner, info.key_id) && store_.count_keys(owner) >= opt_.max_keys_per_client)
          throw HttpError(429, "too_many_keys",
                          "client has " + std::to_string(opt_.max_keys_per_client) +
                              " registered keys (the limit); DELETE /v1/keys/{id} one first");
        r = store_.put_key(owner, info, bytes);
      }
      json_reply(res, r == JobStore::PutKeyResult::kCreated ? 201 : 200,
                 {{"key_id", info.key_id},
                  {"params_id", std::to_string(info.params_id)},
                  {"bytes", bytes.size()},
                  {"created", r == JobStore::PutKeyResult::kCreated}});
    });
  });

  s.Delete(std::string("/v1/keys/") + kIdPattern, [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req.get_header_value("Authorization"));
      const std::string id = req.matches[1];
      switch (store_.delete_key(owner, id)) {
        case JobStore::DeleteKeyResult::kNotFound: throw HttpError(404, "key_not_found", "no key '" + id + "'");
        case JobStore::DeleteKeyResult::kInUse:
          throw HttpError(409, "key_in_use", "key '" + id + "' is used by unfinished jobs; delete them or wait");
        case JobStore::DeleteKeyResult::kDeleted: break;
      }
      json_reply(res, 200, {{"key_id", id}, {"deleted", true}});
    });
  });

  s.Get(std::string("/v1/keys/") + kIdPattern, [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req.get_header_value("Authorization"));
      auto key = store_.find_key(owner, req.matches[1]);
      if (!key) throw HttpError(404, "key_not_found", "no key '" + std::string(req.matches[1]) + "'");
      json_reply(res, 200,
                 {{"key_id", key->info.key_id},
                  {"params_id", std::to_string(key->info.params_id)},
                  {"bytes", key->bytes},
                  {"created", key->created}});
    });
  });
}

void Server::check_job_quota(const std::string& owner, std::uint64_t cells) {
  if (store_.count_queued(owner) >= opt_.max_queued_per_client)
    throw HttpError(429, "too_many_jobs",
                    "client has " + std::to_string(opt_.max_queued_per_client) +
                        " unfinished jobs (the limit); retry when one finishes");
  if (cells > 0 && store_.queued_cells(owner) + cells > opt_.max_queued_cells_per_client)
    throw HttpError(429, "quota_exceeded",
                    "client's unfinished jobs would hold more than " + std::to_string(opt_.max_queued_cells_per_client) +
                        " cells (the limit); retry when one finishes");
  if (store_.count_queued() >= opt_.max_queued_jobs)
    throw HttpError(503, "queue_full", "the job queue is full; retry later");
}

RequestInfo Server::check_request_header(const wire::ContainerHeader& h, const KeyInfo& key) const {
  if (h.params_id != key.params_id)
    throw HttpError(400, "invalid_format",
                    "request: parameter id " + std::to_string(h.params_id) + " does not match the key's " +
                        std::to_string(key.params_id));
  if (h.cells == 0) throw HttpError(400, "invalid_format", "request: holds no cells");
  if (h.cells > opt_.max_cells_per_job)
    throw HttpError(413, "too_many_cells",
                    "request holds " + std::to_string(h.cells) + " cells; this server takes at most " +
                        std::to_string(opt_.max_cells_per_job) + " per job (split it)");
  if (slots_per_batch_ > 0 && h.packing != wire::Packing::kLatency) {  // latency: many cells per ciphertext
    const std::size_t batches = (h.cells + slots_per_batch_ - 1) / slots_per_batch_;
    if (batches > opt_.max_batches_per_job)
      throw HttpError(413, "too_many_batches",
                      "request needs " + std::to_string(batches) + " batches of " + std::to_string(slots_per_batch_) +
                          " cells; this server runs at most " + std::to_string(opt_.max_batches_per_job) + " per job");
  }
  return {h.key_id, h.params_id, h.model_id, h.cells};
}

// Jobs stream their body to a file in the payload directory: the size limit is enforced from
// Content-Length before anything is read and again while reading (chunked bodies); the envelope,
// key, parameters and cell caps are checked from the header, and the job is committed as
// 'validating'. The full check (every ciphertext loaded, rows full-width) runs on the validation
// threads, so a slow check never holds an HTTP thread. A failed or truncated upload leaves no job
// and no file.
void Server::install_job_routes() {
  auto& s = *http_;
  s.Post("/v1/jobs", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded_streamed(req, res, reader, opt_.max_body_bytes, [&](Body& body) {
      auto owner = client_of(req.get_header_value("Authorization"));
      body = Body::kUnread;
      check_job_quota(owner, 0);  // cheap, before the upload
      Timer t;
      const auto declared = check_declared_length(req, opt_.max_request_bytes, "--max-request-mb");
      auto upload = store_.begin_upload();
      body = Body::kReading;
      receive_body(req, reader, opt_.max_request_bytes, "--max-request-mb", declared,
                   [&](const char* d, std::size_t n) { upload->append(d, n); });
      upload->close();
      body = Body::kRead;
      const double receive_s = t.seconds();
      auto file = wire::ContainerFile::open(upload->local_path(), "request body");
      if (file.kind() != wire::Kind::kRequest)
        throw HttpError(400, "invalid_format",
                        std::string("request body holds ") + wire::to_string(file.kind()) + ", expected request");
      auto key = store_.find_key(owner, file.header().key_id);
      if (!key)
        throw HttpError(404, "key_not_found",
                        "no registered key '" + file.header().key_id + "' for this client; POST /v1/keys first");
      if (file.header().packing == wire::Packing::kLatency) require_galois_keys(owner, file.header().key_id);
      RequestInfo info = check_request_header(file.header(), key->info);
      const std::uint64_t bytes = file.file_size();
      bytes_in_ += bytes;
      std::string id;
      {
        std::lock_guard lock(submit_mu_);
        check_job_quota(owner, info.cells);
        id = store_.create_job_from_upload(owner, info, *upload, JobState::kValidating);
      }
      {
        std::lock_guard lock(mu_);
        to_validate_.push_back(id);
      }
      validate_cv_.notify_one();
      res.set_header("Location", "/v1/jobs/" + id);
      json_reply(res, 202,
                 {{"job_id", id},
                  {"status", "validating"},
                  {"cells", info.cells},
                  {"request_bytes", bytes},
                  {"request_bytes_per_cell", double(bytes) / info.cells},
                  {"receive_seconds", receive_s}});
    });
  });

  s.Get(std::string("/v1/jobs/") + kIdPattern, [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req.get_header_value("Authorization"));
      auto job = store_.find_job(owner, req.matches[1]);
      if (!job) throw HttpError(404, "job_not_found", "no job '" + std::string(req.matches[1]) + "'");
      auto j = job->to_json();
      if (job->state == JobState::kRunning) {
        // Split jobs: tasks done (any node) plus the fractions of the tasks running on this node.
        const auto [done, total] = store_.task_progress(job->id);
        std::lock_guard lock(mu_);
        if (total > 0) {
          double sum = double(done);
          for (const auto& [key, f] : progress_)
            if (key.rfind(job->id + "#", 0) == 0) sum += f;
          j["progress"] = std::min(1.0, sum / double(total));
          j["tasks"] = {{"done", done}, {"total", total}};
        } else {
          auto it = progress_.find(job->id);
          j["progress"] = it == progress_.end() ? 0.0 : it->second;
        }
      } else if (job->state == JobState::kDone) {
        j["progress"] = 1.0;
      }
      json_reply(res, 200, j);
    });
  });

  // A running job is deleted at once; its worker stops at its next progress report.
  s.Delete(std::string("/v1/jobs/") + kIdPattern, [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req.get_header_value("Authorization"));
      const std::string id = req.matches[1];
      auto state = store_.delete_job(owner, id);
      if (!state) throw HttpError(404, "job_not_found", "no job '" + id + "'");
      if (*state == JobState::kRunning) {
        std::lock_guard lock(mu_);
        deleted_.insert(id);
      }
      json_reply(res, 200, {{"job_id", id}, {"deleted", true}, {"was", to_string(*state)}});
    });
  });

  s.Get(std::string("/v1/jobs/") + kIdPattern + "/result", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req.get_header_value("Authorization"));
      auto job = store_.find_job(owner, req.matches[1]);
      if (!job) throw HttpError(404, "job_not_found", "no job '" + std::string(req.matches[1]) + "'");
      if (job->state == JobState::kFailed && (job->error_code == "invalid_request" || job->error_code == "refused_input"))
        throw HttpError(422, job->error_code, "job " + job->id + " was refused: " + job->error);
      if (job->state == JobState::kFailed) throw HttpError(409, "job_failed", "job " + job->id + " failed: " + job->error);
      if (job->state != JobState::kDone)
        throw HttpError(409, "job_not_finished",
                        "job " + job->id + " is " + to_string(job->state) + "; poll GET /v1/jobs/" + job->id);
      res.status = 200;
      res.set_content(store_.read_result(job->id), "application/octet-stream");
      bytes_out_ += res.body.size();
    });
  });
}

// Shared stores: when idle, a validator also takes checks that a dead node left unfinished.
void Server::validator_loop() {
  while (!stopping_) {
    std::string id;
    {
      std::unique_lock lock(mu_);
      validate_cv_.wait_for(lock, std::chrono::milliseconds(500),
                            [this] { return stopping_.load() || !to_validate_.empty(); });
      if (stopping_) continue;
      if (!to_validate_.empty()) {
        id = std::move(to_validate_.front());
        to_validate_.pop_front();
      }
    }
    if (id.empty() && store_.shared()) {
      try {
        if (auto stale = store_.claim_validation(node_id_, opt_.lease_seconds)) id = *stale;
      } catch (const std::exception& e) {
        std::cerr << "leukocrypt serve: job store error: " << e.what() << std::endl;
      }
    }
    if (!id.empty() && !validate_job(id)) {
      // The store is unreachable (restarting): the same check again after a pause.
      std::unique_lock lock(mu_);
      validate_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_.load(); });
      to_validate_.push_back(id);
    }
  }
}

// The full check of a stored request; the job becomes pending or fails with a code (422 on
// GET .../result). A server stopped mid-check leaves it validating: the next start checks it again.
// false: the store was unreachable (a database restart), which is no fault of the request.
bool Server::validate_job(const std::string& id) {
  try {
    auto job = store_.get_job(id);
    if (!job || job->state != JobState::kValidating) return true;
    if (store_.shared() && !store_.start_validation(id, node_id_, opt_.lease_seconds)) return true;  // another node's
    try {
      auto key = store_.find_key(job->owner, job->key_id);
      if (!key) throw FormatError("request: key '" + job->key_id + "' is no longer registered");
      Timer t;
      auto file = wire::ContainerFile::open(store_.request_path(id), "stored request");
      RequestInfo info = runner_.inspect_request(file, key->info);
      if (store_.mark_validated(id, info, t.seconds())) {
        {
          std::lock_guard lock(mu_);
          ++jobs_validated_;
        }
        cv_.notify_all();
      }
    } catch (const ConnectionLost&) {
      throw;
    } catch (const std::exception& e) {
      store_.reject_job(id, failure_code(e), e.what());
    }
  } catch (const ConnectionLost& e) {
    std::cerr << "leukocrypt serve: job store unreachable while validating job " << id << ": " << e.what() << std::endl;
    return false;
  } catch (const std::exception& e) {
    std::cerr << "leukocrypt serve: cannot validate job " << id << ": " << e.what() << std::endl;
  }
  return true;
}

void Server::require_galois_keys(const std::string& owner, const std::string& key_id) {
  auto kf = wire::ContainerFile::open(store_.key_path(owner, key_id), "stored key");
  auto meta = nlohmann::json::parse(kf.header().meta, nullptr, false);
  if (meta.is_object() && meta.contains("galois_steps") && meta["galois_steps"].is_array() &&
      !meta["galois_steps"].empty())
    return;
  throw HttpError(400, "missing_galois_keys",
                  "key '" + key_id + "' has no Galois keys: the latency layout rotates slots; re-run keygen with "
                  "the model card (its 'latency' section names the rotation steps) and upload the new eval.key");
}

namespace {

std::string prometheus_number(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

// A label value, escaped as the text format wants (backslash, quote, newline).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string progress_key(const JobRecord& claim) {
  return claim.task ? claim.id + "#" + std::to_string(claim.task->index) : claim.id;
}

}  // namespace

// One Worker per thread. Single-process stores claim without a lease (bind() re-queues what a
// killed process left running); shared stores lease, since other nodes may be running jobs too.
void Server::worker_loop() {
  Worker worker(store_, runner_, {default_worker_id(), store_.shared() ? opt_.lease_seconds : 0.0, kMaxAttempts});
  WorkerHooks hooks;
  // Progress is kept per claim (a job's tasks may run on several of this node's threads).
  hooks.on_start = [this](const JobRecord& job) {
    std::lock_guard lock(mu_);
    progress_[progress_key(job)] = 0.0;
  };
  hooks.on_progress = [this](const JobRecord& job, double f) {
    std::lock_guard lock(mu_);
    if (stopping_ || deleted_.count(job.id)) throw JobCancelled{};
    progress_[progress_key(job)] = f;
  };
  hooks.on_task_end = [this](const JobRecord&, JobStore::TaskFinish f, double seconds, const RunOutput&) {
    if (f == JobStore::TaskFinish::kLost) {
      ++tasks_lost_;
      return;
    }
    ++tasks_finished_;
    std::lock_guard lock(metrics_mu_);
    task_seconds_sum_ += seconds;
    for (std::size_t b = 0; b < std::size(kTaskSecondsBuckets); ++b)
      if (seconds <= kTaskSecondsBuckets[b]) ++task_seconds_buckets_[b];
  };
  hooks.on_failure = [this](const JobRecord&, const std::string&) { ++task_failures_; };
  hooks.on_end = [this](const JobRecord& job) {
    std::lock_guard lock(mu_);
    progress_.erase(progress_key(job));
    bool more = false;  // another task of the job still runs here
    for (const auto& [key, f] : progress_) more = more || key.rfind(job.id + "#", 0) == 0;
    if (!more) deleted_.erase(job.id);
  };
  while (!stopping_) {
    // Read before claiming: a job validated between a failed claim and the wait still wakes us
    // (the wait used to ignore the notification and poll every 500 ms: ~0.25 s added to a
    // one-cell job on average).
    std::uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = jobs_validated_;
    }
    std::optional<JobRecord> job;
    try {
      job = worker.claim();
    } catch (const std::exception& e) {
      std::cerr << "leukocrypt serve: job store error: " << e.what() << std::endl;
    }
    if (!job) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500),
                   [&] { return stopping_.load() || jobs_validated_ != seen; });
      continue;
    }
    worker.run(*job, hooks);
  }
}

std::string Server::metrics_text() {
  const auto m = store_.metrics();
  std::ostringstream o;
  auto family = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  };
  family("leukocrypt_jobs", "gauge", "Jobs in the store by state (cluster-wide; finished ones until retention).");
  for (const char* st : {"validating", "pending", "running", "done", "failed"}) {
    std::int64_t n = 0;
    for (const auto& [k, v] : m.jobs_by_state) n += k == st ? v : 0;
    o << "leukocrypt_jobs{state=\"" << st << "\"} " << n << "\n";
  }
  family("leukocrypt_queue_depth", "gauge", "Unfinished jobs: validating + pending + running (cluster-wide).");
  std::int64_t queued = 0;
  for (const auto& [k, v] : m.jobs_by_state) queued += (k == "validating" || k == "pending" || k == "running") ? v : 0;
  o << "leukocrypt_queue_depth " << queued << "\n";
  family("leukocrypt_tasks", "gauge", "Tasks of split jobs by state (cluster-wide).");
  for (const char* st : {"pending", "running", "done"}) {
    std::int64_t n = 0;
    for (const auto& [k, v] : m.tasks_by_state) n += k == st ? v : 0;
    o << "leukocrypt_tasks{state=\"" << st << "\"} " << n << "\n";
  }
  family("leukocrypt_jobs_failed", "gauge", "Failed jobs in the store by reason (error code; cluster-wide).");
  for (const auto& [code, n] : m.failed_by_code)
    o << "leukocrypt_jobs_failed{reason=\"" << label(code.empty() ? "error" : code) << "\"} " << n << "\n";
  family("leukocrypt_job_run_seconds", "summary", "Claim-to-done seconds of the done jobs in the store (cluster-wide).");
  o << "leukocrypt_job_run_seconds_sum " << prometheus_number(m.done_run_seconds) << "\n";
  o << "leukocrypt_job_run_seconds_count " << m.done_jobs << "\n";
  family("leukocrypt_done_cells", "gauge", "Cells of the done jobs in the store (cluster-wide).");
  o << "leukocrypt_done_cells " << m.done_cells << "\n";
  {
    std::lock_guard lock(metrics_mu_);
    family("leukocrypt_task_seconds", "histogram", "Seconds per task (or unsplit job) run by this node's worker threads.");
    for (std::size_t b = 0; b < std::size(kTaskSecondsBuckets); ++b)
      o << "leukocrypt_task_seconds_bucket{le=\"" << prometheus_number(kTaskSecondsBuckets[b]) << "\"} "
        << task_seconds_buckets_[b] << "\n";
    o << "leukocrypt_task_seconds_bucket{le=\"+Inf\"} " << tasks_finished_.load() << "\n";
    o << "leukocrypt_task_seconds_sum " << prometheus_number(task_seconds_sum_) << "\n";
    o << "leukocrypt_task_seconds_count " << tasks_finished_.load() << "\n";
  }
  family("leukocrypt_tasks_lost_total", "counter", "Tasks this node finished after losing the claim (result dropped).");
  o << "leukocrypt_tasks_lost_total " << tasks_lost_.load() << "\n";
  family("leukocrypt_task_failures_total", "counter", "Tasks or jobs that failed on this node's worker threads.");
  o << "leukocrypt_task_failures_total " << task_failures_.load() << "\n";
  family("leukocrypt_received_bytes_total", "counter", "Key and request bytes accepted by this node.");
  o << "leukocrypt_received_bytes_total " << bytes_in_.load() << "\n";
  family("leukocrypt_sent_bytes_total", "counter", "Result bytes served by this node.");
  o << "leukocrypt_sent_bytes_total " << bytes_out_.load() << "\n";
  family("leukocrypt_worker_threads", "gauge", "Worker threads of this node (0: API-only).");
  o << "leukocrypt_worker_threads " << opt_.workers << "\n";
  return o.str();
}

std::size_t Server::sweep() {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return store_.expire_finished(now - opt_.retention_seconds);
}

void Server::sweeper_loop() {
  while (!stopping_) {
    try {
      sweep();
    } catch (const std::exception& e) {
      std::cerr << "leukocrypt serve: retention sweep failed: " << e.what() << std::endl;
    }
    std::unique_lock lock(mu_);
    sweep_cv_.wait_for(lock, std::chrono::duration<double>(opt_.sweep_interval_seconds),
                       [this] { return stopping_.load(); });
  }
}

int Server::bind() {
  require(!started_, "server already started");
  port_ = bind_http(*http_, opt_.host, opt_.port);
  if (opt_.request_timeout_s > 0)
    deadline_ = std::make_unique<RequestDeadline>(port_, std::chrono::seconds(opt_.request_timeout_s),
                                                  opt_.min_body_rate, !opt_.tls_cert.empty());
  recovered_ = static_cast<std::size_t>(store_.shared() ? store_.requeue_expired() : store_.requeue_running());
  store_.remove_partial_uploads();  // uploads a killed process was still receiving
  orphans_ = store_.remove_orphans();
  for (auto& id : store_.job_ids(JobState::kValidating)) to_validate_.push_back(std::move(id));
  started_ = true;
  for (std::size_t i = 0; i < opt_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  for (std::size_t i = 0; i < opt_.validators; ++i) validators_.emplace_back([this] { validator_loop(); });
  sweeper_ = std::thread([this] { sweeper_loop(); });
  return port_;
}

void Server::serve() { http_->listen_after_bind(); }

int Server::start() {
  int port = bind();
  serve_thread_ = std::thread([this] { serve(); });
  wait_until_listening(*http_, port, "server");
  return port;
}

void Server::stop() {
  stopping_ = true;
  cv_.notify_all();
  validate_cv_.notify_all();
  sweep_cv_.notify_all();
  if (http_) http_->stop();
  if (serve_thread_.joinable()) serve_thread_.join();
  for (auto* threads : {&workers_, &validators_}) {
    for (auto& w : *threads)
      if (w.joinable()) w.join();
    threads->clear();
  }
  if (sweeper_.joinable()) sweeper_.join();
  deadline_.reset();
}

}  // namespace leukocrypt::service
