// HTTP screening service (see server.h).
#include "service/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "common/timer.h"
#include "service/wire/container.h"

namespace leukocrypt::service {
namespace {

constexpr int kMaxAttempts = 3;  // a job that crashed the server this often is failed, not retried
constexpr const char* kIdPattern = "([0-9A-Za-z_-]{1,64})";

// An error with an HTTP status and a stable machine-readable code.
struct HttpError : Error {
  HttpError(int s, std::string c, const std::string& m) : Error(m), status(s), code(std::move(c)) {}
  int status;
  std::string code;
};

// Thrown from the progress callback when the server stops, to unwind a running job.
struct JobCancelled {};

const char* default_code(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 411: return "length_required";
    case 413: return "payload_too_large";
    case 429: return "too_many_jobs";
    case 503: return "queue_full";
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

// An upload being received into the payload directory (mode 0600): written through a 1 MiB
// buffer, deleted on destruction unless release()d (handed to the job store).
class UploadFile {
 public:
  explicit UploadFile(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) throw IoError("cannot create upload file: " + std::string(std::strerror(errno)));
    buf_.reserve(kBuffer);
  }
  ~UploadFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(path_.c_str());
  }
  UploadFile(const UploadFile&) = delete;
  UploadFile& operator=(const UploadFile&) = delete;

  void append(const char* data, std::size_t n) {
    buf_.append(data, n);
    size_ += n;
    if (buf_.size() >= kBuffer) flush();
  }
  // Flushes and closes the file (it is then read back for validation).
  void close() {
    flush();
    if (::close(fd_) != 0) throw IoError("cannot close upload file: " + std::string(std::strerror(errno)));
    fd_ = -1;
  }
  void release() { released_ = true; }
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  static constexpr std::size_t kBuffer = 1 << 20;
  void flush() {
    std::size_t done = 0;
    while (done < buf_.size()) {
      ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw IoError("cannot write upload file: " + std::string(std::strerror(errno)));
      done += static_cast<std::size_t>(w);
    }
    buf_.clear();
  }
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buf_;
  std::uint64_t size_ = 0;
  bool released_ = false;
};

std::string limit_message(std::uint64_t limit) {
  return "request body exceeds the server's size limit of " + std::to_string(limit) +
         " bytes (leukocrypt serve --max-request-mb)";
}

bool is_chunked(const httplib::Request& req) {
  return req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
}

// The declared body length (0 for chunked bodies), refusing (413) one above the limit before
// anything is read.
std::uint64_t check_declared_length(const httplib::Request& req, std::uint64_t limit) {
  if (is_chunked(req)) return 0;
  if (!req.has_header("Content-Length"))
    throw HttpError(411, "length_required", "POST /v1/jobs needs Content-Length or chunked transfer encoding");
  const auto text = req.get_header_value("Content-Length");
  std::uint64_t declared = 0;
  try {
    std::size_t used = 0;
    declared = std::stoull(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    throw HttpError(400, "bad_request", "Content-Length '" + text + "' is not a number");
  }
  if (declared > limit) throw HttpError(413, "payload_too_large", limit_message(limit));
  return declared;
}

// How much of a refused body is still read and dropped, so that a client that only reads the
// answer after sending everything (most HTTP libraries) sees the 413 rather than a reset. Beyond
// this the connection is closed (curl's Expect: 100-continue sees the answer before sending).
constexpr std::uint64_t kDrainBytes = std::uint64_t(128) << 20;

// Streams the body into `out`. A chunked body that passes the limit stops being stored at once
// (413), and is dropped up to kDrainBytes more. A body that ends early (client gone, timeout) is a
// 400; the caller's UploadFile then deletes what arrived.
void receive_body(const httplib::Request& req, const httplib::ContentReader& reader, UploadFile& out,
                  std::uint64_t limit, std::uint64_t declared) {
  const bool chunked = is_chunked(req);
  bool too_large = false;
  std::uint64_t dropped = 0;
  bool ok = reader([&](const char* data, std::size_t n) {
    if (too_large || out.size() + n > limit) {
      too_large = true;
      dropped += n;
      return dropped <= kDrainBytes;
    }
    out.append(data, n);
    return true;
  });
  if (too_large) throw HttpError(413, "payload_too_large", limit_message(limit));
  if (!ok || (!chunked && out.size() != declared))
    throw HttpError(400, "truncated_upload",
                    "request body ended after " + std::to_string(out.size()) + " bytes" +
                        (chunked ? std::string() : " of the " + std::to_string(declared) + " declared"));
  out.close();
}

// A request refused before its body was read: read (and drop) it when it is at most kDrainBytes,
// so that a client that is still sending sees the answer rather than a reset; close the connection.
void discard_body(const httplib::Request& req, const httplib::ContentReader& reader, httplib::Response& res) {
  res.set_header("Connection", "close");
  if (!is_chunked(req)) {
    // (httplib would read a body above its own limit to the end before giving up.)
    std::uint64_t declared = 0;
    try {
      declared = std::stoull(req.get_header_value("Content-Length"));
    } catch (const std::exception&) {
      return;
    }
    if (declared > kDrainBytes) return;
  }
  std::uint64_t seen = 0;
  try {
    reader([&](const char*, std::size_t n) {
      seen += n;
      return seen <= kDrainBytes;
    });
  } catch (...) {
  }
}

}  // namespace

Server::Server(ServerOptions options, JobStore& store, const JobRunner& runner)
    : opt_(std::move(options)), store_(store), runner_(runner), http_(std::make_unique<httplib::Server>()) {
  require(opt_.workers >= 1, "workers must be at least 1");
  require(opt_.http_threads >= 1, "http threads must be at least 1");
  require(opt_.max_queued_jobs >= 1 && opt_.max_queued_per_client >= 1, "queue limits must be at least 1");
  require(!opt_.require_auth || opt_.tokens.size() > 0, "authentication is required but no tokens were given");
  install_routes();
}

Server::~Server() { stop(); }

void Server::install_routes() {
  auto& s = *http_;
  const std::size_t http_threads = opt_.http_threads;
  s.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  s.set_payload_max_length(opt_.max_request_bytes);
  s.set_read_timeout(opt_.read_timeout_s, 0);
  s.set_write_timeout(opt_.read_timeout_s, 0);
  s.set_keep_alive_max_count(100);

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

  auto client_of = [this](const httplib::Request& req) -> std::string {
    if (!opt_.require_auth) return "anonymous";
    auto client = opt_.tokens.client_for_header(req.get_header_value("Authorization"));
    if (!client) throw HttpError(401, "unauthorized", "missing or unknown API token (Authorization: Bearer <token>)");
    return *client;
  };

  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      json_reply(res, 200, {{"status", "ok"},
                            {"queued", store_.count_queued()},
                            {"workers", opt_.workers},
                            {"max_request_bytes", opt_.max_request_bytes}});
    });
  });

  s.Get("/v1/model", [this, client_of](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      client_of(req);
      json_reply(res, 200, runner_.model_card());
    });
  });

  s.Post("/v1/keys", [this, client_of](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req);
      // Refuse secret keys by their envelope before anything else looks at them.
      auto view = wire::parse(req.body, "key upload");
      if (view.kind == wire::Kind::kSecretKey)
        throw HttpError(400, "secret_key_refused",
                        "this is a secret key: it must never leave the key holder; upload eval.key instead");
      if (view.kind != wire::Kind::kEvalKeys)
        throw HttpError(400, "invalid_format",
                        std::string("key upload holds ") + wire::to_string(view.kind) + ", expected eval-keys");
      KeyInfo info = runner_.inspect_keys(req.body);
      auto r = store_.put_key(owner, info, req.body);
      json_reply(res, r == JobStore::PutKeyResult::kCreated ? 201 : 200,
                 {{"key_id", info.key_id},
                  {"params_id", std::to_string(info.params_id)},
                  {"bytes", req.body.size()},
                  {"created", r == JobStore::PutKeyResult::kCreated}});
    });
  });

  s.Get(std::string("/v1/keys/") + kIdPattern, [this, client_of](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req);
      auto key = store_.find_key(owner, req.matches[1]);
      if (!key) throw HttpError(404, "key_not_found", "no key '" + std::string(req.matches[1]) + "'");
      json_reply(res, 200,
                 {{"key_id", key->info.key_id},
                  {"params_id", std::to_string(key->info.params_id)},
                  {"bytes", key->bytes},
                  {"created", key->created}});
    });
  });

  // Jobs stream their body to a file in the payload directory: the size limit is enforced from
  // Content-Length before anything is read and again while reading (chunked bodies), the file is
  // validated blob by blob, then renamed into place as the job's request. Memory does not grow
  // with the request; a failed or truncated upload leaves no job and no file.
  s.Post("/v1/jobs", [this, client_of](const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& content_reader) {
    enum class Body { kUnread, kReading, kRead } body = Body::kUnread;
    guarded(res, [&] {
      try {
        auto owner = client_of(req);
        auto check_limits = [&] {
          if (store_.count_queued(owner) >= opt_.max_queued_per_client)
            throw HttpError(429, "too_many_jobs",
                            "client has " + std::to_string(opt_.max_queued_per_client) +
                                " unfinished jobs (the limit); retry when one finishes");
          if (store_.count_queued() >= opt_.max_queued_jobs)
            throw HttpError(503, "queue_full", "the job queue is full; retry later");
        };
        check_limits();  // cheap, before the upload and the (expensive) validation
        Timer t;
        const auto declared = check_declared_length(req, opt_.max_request_bytes);
        UploadFile upload(store_.new_upload_path());
        body = Body::kReading;
        receive_body(req, content_reader, upload, opt_.max_request_bytes, declared);
        body = Body::kRead;
        double receive_s = t.seconds();
        t.reset();
        auto file = wire::ContainerFile::open(upload.path(), "request body");
        if (file.kind() != wire::Kind::kRequest)
          throw HttpError(400, "invalid_format",
                          std::string("request body holds ") + wire::to_string(file.kind()) + ", expected request");
        auto key = store_.find_key(owner, file.header().key_id);
        if (!key)
          throw HttpError(404, "key_not_found",
                          "no registered key '" + file.header().key_id + "' for this client; POST /v1/keys first");
        if (file.header().packing == wire::Packing::kLatency) require_galois_keys(owner, file.header().key_id);
        RequestInfo info = runner_.inspect_request(file, key->info);
        double validate_s = t.seconds();
        const std::uint64_t bytes = file.file_size();
        std::string id;
        {
          std::lock_guard lock(submit_mu_);
          check_limits();
          id = store_.create_job_from_file(owner, info, upload.path());
          upload.release();
        }
        cv_.notify_one();
        res.set_header("Location", "/v1/jobs/" + id);
        json_reply(res, 202,
                   {{"job_id", id},
                    {"status", "pending"},
                    {"cells", info.cells},
                    {"request_bytes", bytes},
                    {"request_bytes_per_cell", info.cells ? double(bytes) / info.cells : 0.0},
                    {"receive_seconds", receive_s},
                    {"validate_seconds", validate_s}});
      } catch (...) {
        if (body == Body::kUnread) discard_body(req, content_reader, res);
        if (body == Body::kReading) res.set_header("Connection", "close");  // the stream is mid-body
        throw;
      }
    });
  });

  s.Get(std::string("/v1/jobs/") + kIdPattern, [this, client_of](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto owner = client_of(req);
      auto job = store_.find_job(owner, req.matches[1]);
      if (!job) throw HttpError(404, "job_not_found", "no job '" + std::string(req.matches[1]) + "'");
      auto j = job->to_json();
      if (job->state == JobState::kRunning) {
        std::lock_guard lock(mu_);
        auto it = progress_.find(job->id);
        j["progress"] = it == progress_.end() ? 0.0 : it->second;
      } else if (job->state == JobState::kDone) {
        j["progress"] = 1.0;
      }
      json_reply(res, 200, j);
    });
  });

  s.Get(std::string("/v1/jobs/") + kIdPattern + "/result",
        [this, client_of](const httplib::Request& req, httplib::Response& res) {
          guarded(res, [&] {
            auto owner = client_of(req);
            auto job = store_.find_job(owner, req.matches[1]);
            if (!job) throw HttpError(404, "job_not_found", "no job '" + std::string(req.matches[1]) + "'");
            if (job->state == JobState::kFailed)
              throw HttpError(409, "job_failed", "job " + job->id + " failed: " + job->error);
            if (job->state != JobState::kDone)
              throw HttpError(409, "job_not_finished",
                              "job " + job->id + " is " + to_string(job->state) + "; poll GET /v1/jobs/" + job->id);
            res.status = 200;
            res.set_content(store_.read_result(job->id), "application/octet-stream");
          });
        });
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

void Server::worker_loop() {
  while (!stopping_) {
    std::optional<JobRecord> job;
    try {
      job = store_.claim_next();
    } catch (const std::exception& e) {
      std::cerr << "leukocrypt serve: job store error: " << e.what() << std::endl;
    }
    if (!job) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_.load(); });
      continue;
    }
    if (job->attempts > kMaxAttempts) {
      store_.fail_job(job->id, "gave up after " + std::to_string(kMaxAttempts) + " attempts (the server stopped "
                               "while running it each time)");
      continue;
    }
    {
      std::lock_guard lock(mu_);
      progress_[job->id] = 0.0;
    }
    try {
      auto request = wire::ContainerFile::open(store_.request_path(job->id), "stored request");
      Timer t;
      RunOutput out = runner_.run_with_keys(
          job->owner + "/" + job->key_id, [&] { return store_.read_key(job->owner, job->key_id); }, request,
          [this, &job](double f) {
        if (stopping_) throw JobCancelled{};
        std::lock_guard lock(mu_);
        progress_[job->id] = f;
      });
      nlohmann::json stages = nlohmann::json::object();
      for (auto& [name, s] : out.stages) stages[name] = s;
      stages["total"] = t.seconds();
      store_.finish_job(job->id, out.result, stages, out.info);
    } catch (const JobCancelled&) {
      // Left 'running': the next start re-queues it.
    } catch (const std::exception& e) {
      try {
        store_.fail_job(job->id, e.what());
      } catch (const std::exception& e2) {
        std::cerr << "leukocrypt serve: cannot record failure of job " << job->id << ": " << e2.what() << std::endl;
      }
    }
    std::lock_guard lock(mu_);
    progress_.erase(job->id);
  }
}

int Server::bind() {
  require(!started_, "server already started");
  if (opt_.port == 0) {
    port_ = http_->bind_to_any_port(opt_.host);
    if (port_ <= 0) throw IoError("cannot bind " + opt_.host + " to a free port");
  } else {
    if (!http_->bind_to_port(opt_.host, opt_.port))
      throw IoError("cannot bind " + opt_.host + ":" + std::to_string(opt_.port) + " (in use or not permitted)");
    port_ = opt_.port;
  }
  recovered_ = static_cast<std::size_t>(store_.requeue_running());
  store_.remove_partial_uploads();  // uploads a killed process was still receiving
  started_ = true;
  for (std::size_t i = 0; i < opt_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  return port_;
}

void Server::serve() { http_->listen_after_bind(); }

int Server::start() {
  int port = bind();
  serve_thread_ = std::thread([this] { serve(); });
  for (int i = 0; i < 500 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!http_->is_running()) throw IoError("server did not start listening on port " + std::to_string(port));
  return port;
}

void Server::stop() {
  stopping_ = true;
  cv_.notify_all();
  if (http_) http_->stop();
  if (serve_thread_.joinable()) serve_thread_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
}

}  // namespace leukocrypt::service
