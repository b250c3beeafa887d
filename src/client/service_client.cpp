// HTTP client for the screening service (see service_client.h).
#include "client/service_client.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/paths.h"
#include "common/timer.h"
#include "service/wire/container.h"

namespace leukocrypt::client {
namespace {

[[noreturn]] void throw_for(const httplib::Result& r, const std::string& what, const std::string& url) {
  if (!r && r.error() == httplib::Error::SSLServerVerification)
    throw IoError(what + ": the certificate of " + url +
                  " is not trusted (wrong host name, or not signed by the CA: pass --ca-file CA.pem)");
  if (!r) throw IoError(what + ": cannot reach " + url + " (" + httplib::to_string(r.error()) + ")");
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    auto& e = j["error"];
    throw ServiceError(r->status, e.value("code", "error"),
                       what + ": server answered " + std::to_string(r->status) + ": " + e.value("message", ""));
  }
  throw ServiceError(r->status, "error", what + ": server answered " + std::to_string(r->status));
}

nlohmann::json parse_json(const httplib::Result& r, const std::string& what) {
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) throw FormatError(what + ": server sent invalid JSON");
  return j;
}

}  // namespace

ServiceClient::ServiceClient(const std::string& url, std::string token, ClientOptions options)
    : url_(url), token_(std::move(token)) {
  require(url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0,
          "server URL '" + url + "' must start with http:// or https://");
  http_ = std::make_unique<httplib::Client>(url);
  require(http_->is_valid(), "server URL '" + url + "' is not valid");
  if (url.rfind("https://", 0) == 0) {
    http_->enable_server_certificate_verification(true);
    if (!options.ca_file.empty()) {
      (void)read_file(options.ca_file, 1 << 24);  // a clear error for a missing bundle
      http_->set_ca_cert_path(options.ca_file.c_str());
    }
  } else {
    require(options.ca_file.empty(), "--ca-file is for https:// servers, not '" + url + "'");
  }
  http_->set_connection_timeout(options.connect_timeout);
  http_->set_read_timeout(options.io_timeout);
  http_->set_write_timeout(options.io_timeout);
  if (!token_.empty()) http_->set_bearer_token_auth(token_.c_str());
}

ServiceClient::~ServiceClient() = default;
ServiceClient::ServiceClient(ServiceClient&&) noexcept = default;
ServiceClient& ServiceClient::operator=(ServiceClient&&) noexcept = default;

nlohmann::json ServiceClient::health() {
  auto r = http_->Get("/healthz");
  if (!r || r->status != 200) throw_for(r, "GET /healthz", url_);
  return parse_json(r, "GET /healthz");
}

nlohmann::json ServiceClient::model_card() {
  auto r = http_->Get("/v1/model");
  if (!r || r->status != 200) throw_for(r, "GET /v1/model", url_);
  return parse_json(r, "GET /v1/model");
}

bool ServiceClient::key_registered(const std::string& key_id) {
  require(wire::is_valid_id(key_id), "key id '" + key_id + "' is not a valid id");
  auto r = http_->Get("/v1/keys/" + key_id);
  if (r && r->status == 404) return false;
  if (!r || r->status != 200) throw_for(r, "GET /v1/keys/" + key_id, url_);
  return true;
}

nlohmann::json ServiceClient::register_keys(const std::string& eval_keys) {
  return post_bytes("/v1/keys", 201, eval_keys, {});
}

nlohmann::json ServiceClient::register_keys_file(const std::filesystem::path& eval_keys, const UploadProgress& on_progress,
                                                 const PieceObserver& on_piece) {
  return post_file("/v1/keys", 201, eval_keys, "max_key_bytes", "--max-key-mb", on_progress, on_piece);
}

nlohmann::json ServiceClient::post_stream(const std::string& path, int expect, std::uint64_t size, const Reader& read,
                                          const UploadProgress& on_progress, const PieceObserver& on_piece) {
  constexpr std::size_t kPiece = 1 << 20;
  std::string piece;
  std::string read_error;
  auto provider = [&](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
    const std::size_t n = std::min(length, kPiece);
    piece.resize(n);
    try {
      read(offset, piece.data(), n);
      if (on_piece) on_piece(piece.data(), n);
    } catch (const std::exception& e) {
      read_error = e.what();
      return false;
    }
    if (!sink.write(piece.data(), n)) return false;
    try {
      if (on_progress) on_progress(offset + n, size);
    } catch (const std::exception& e) {  // the caller stops the upload (e.g. cancelled)
      read_error = e.what();
      return false;
    }
    return true;
  };
  const std::string what = "POST " + path;
  auto r = http_->Post(path, static_cast<std::size_t>(size), provider, "application/octet-stream");
  if (!read_error.empty()) throw IoError(what + ": " + read_error);
  if (!r || !(r->status == expect || (expect == 201 && r->status == 200))) throw_for(r, what, url_);
  return parse_json(r, what);
}

nlohmann::json ServiceClient::post_bytes(const std::string& path, int expect, const std::string& bytes,
                                         const UploadProgress& on_progress) {
  return post_stream(
      path, expect, bytes.size(),
      [&](std::uint64_t off, char* dst, std::size_t n) { std::memcpy(dst, bytes.data() + off, n); }, on_progress, {});
}

std::string ServiceClient::job_id_from(const nlohmann::json& answer) {
  if (!answer.contains("job_id") || !answer["job_id"].is_string())
    throw FormatError("POST /v1/jobs: no job_id in the answer");
  last_submit_ = answer;
  return answer["job_id"];
}

std::string ServiceClient::submit(const std::string& request, const UploadProgress& on_progress) {
  return job_id_from(post_bytes("/v1/jobs", 202, request, on_progress));
}

std::string ServiceClient::submit_file(const std::filesystem::path& request, const UploadProgress& on_progress) {
  return job_id_from(post_file("/v1/jobs", 202, request, "max_request_bytes", "--max-request-mb", on_progress, {}));
}

nlohmann::json ServiceClient::post_file(const std::string& path, int expect, const std::filesystem::path& file,
                                        const std::string& limit_field, const std::string& limit_option,
                                        const UploadProgress& on_progress, const PieceObserver& on_piece) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open '" + file.string() + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IoError("cannot stat '" + file.string() + "'");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // The server answers an oversized body with 413 before reading it; checking first gives that
  // answer without streaming gigabytes into a closed connection.
  auto h = health();
  if (h.contains(limit_field) && h[limit_field].is_number_unsigned() && size > h[limit_field].get<std::uint64_t>())
    throw ServiceError(413, "payload_too_large",
                       "POST " + path + ": '" + file.filename().string() + "' (" + std::to_string(size) +
                           " bytes) exceeds the server's limit of " + std::to_string(h[limit_field].get<std::uint64_t>()) +
                           " bytes (leukocrypt serve " + limit_option + "); nothing was sent");
  return post_stream(path, expect, size,
                     [&](std::uint64_t off, char* dst, std::size_t n) {
                       std::size_t got = 0;
                       while (got < n) {
                         ssize_t r = ::pread(fd, dst + got, n - got, static_cast<off_t>(off + got));
                         if (r < 0 && errno == EINTR) continue;
                         if (r <= 0) throw IoError("cannot read '" + file.string() + "' (changed while uploading?)");
                         got += static_cast<std::size_t>(r);
                       }
                     },
                     on_progress, on_piece);
}

nlohmann::json ServiceClient::delete_job(const std::string& job_id) {
  require(wire::is_valid_id(job_id), "job id '" + job_id + "' is not a valid id");
  const auto path = "/v1/jobs/" + job_id;
  auto r = http_->Delete(path);
  if (!r || r->status != 200) throw_for(r, "DELETE " + path, url_);
  return parse_json(r, "DELETE " + path);
}

nlohmann::json ServiceClient::status(const std::string& job_id) {
  auto path = "/v1/jobs/" + job_id;
  auto r = http_->Get(path);
  if (!r || r->status != 200) throw_for(r, "GET " + path, url_);
  return parse_json(r, "GET " + path);
}

std::string ServiceClient::result(const std::string& job_id) {
  auto path = "/v1/jobs/" + job_id + "/result";
  auto r = http_->Get(path);
  if (!r || r->status != 200) throw_for(r, "GET " + path, url_);
  return r->body;
}

nlohmann::json ServiceClient::wait(const std::string& job_id, std::chrono::seconds timeout,
                                   const std::function<void(const nlohmann::json&)>& on_status) {
  Timer t;
  while (true) {
    nlohmann::json j;
    try {
      j = status(job_id);
    } catch (const ServiceError& e) {
      // 503: the service's job store is restarting (store_unavailable); the job is safe: poll on.
      if (e.status() != 503 || t.seconds() > static_cast<double>(timeout.count())) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (on_status) on_status(j);
    auto s = j.value("status", "");
    if (s == "done") return j;
    if (s == "failed") throw ServiceError(200, "job_failed", "job " + job_id + " failed: " + j.value("error", ""));
    if (t.seconds() > static_cast<double>(timeout.count()))
      throw IoError("job " + job_id + " did not finish within " + std::to_string(timeout.count()) + " s (status " +
                    s + ")");
    // A tenth of the time waited so far, 50 ms to 1 s: a finished job is noticed within ~10 % of
    // its run time (doubling delays noticed a 1.8 s job 0.7 s late), at most 1 poll/s for long ones.
    const auto delay = std::chrono::milliseconds(std::clamp<long long>(static_cast<long long>(t.seconds() * 100), 50, 1000));
    std::this_thread::sleep_for(delay);
  }
}

}  // namespace leukocrypt::client
