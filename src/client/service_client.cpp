// HTTP client for the screening service (see service_client.h).
#include "client/service_client.h"

#include <httplib.h>

#include <thread>

#include "common/timer.h"

namespace leukocrypt::client {
namespace {

[[noreturn]] void throw_for(const httplib::Result& r, const std::string& what, const std::string& url) {
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

nlohmann::json ServiceClient::register_keys(const std::string& eval_keys) {
  auto r = http_->Post("/v1/keys", eval_keys, "application/octet-stream");
  if (!r || (r->status != 200 && r->status != 201)) throw_for(r, "POST /v1/keys", url_);
  return parse_json(r, "POST /v1/keys");
}

std::string ServiceClient::submit(const std::string& request) {
  auto r = http_->Post("/v1/jobs", request, "application/octet-stream");
  if (!r || r->status != 202) throw_for(r, "POST /v1/jobs", url_);
  auto j = parse_json(r, "POST /v1/jobs");
  if (!j.contains("job_id") || !j["job_id"].is_string()) throw FormatError("POST /v1/jobs: no job_id in the answer");
  return j["job_id"];
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
  auto delay = std::chrono::milliseconds(50);
  while (true) {
    auto j = status(job_id);
    if (on_status) on_status(j);
    auto s = j.value("status", "");
    if (s == "done") return j;
    if (s == "failed") throw ServiceError(200, "job_failed", "job " + job_id + " failed: " + j.value("error", ""));
    if (t.seconds() > static_cast<double>(timeout.count()))
      throw IoError("job " + job_id + " did not finish within " + std::to_string(timeout.count()) + " s (status " +
                    s + ")");
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace leukocrypt::client
