// The clinic's web server and JSON API (see clinic_server.h and docs/CLINIC.md).
#include "clinic/clinic_server.h"

#include <httplib.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "clinic/assets.h"
#include "clinic/clinic_error.h"
#include "clinic/packing.h"
#include "common/http_listen.h"

namespace leukocrypt::clinic {
namespace {

constexpr std::size_t kMaxBody = CellPool::kMaxFileBytes + (1 << 20);

void json_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", {{"status", status}, {"code", code}, {"message", message}}}}.dump() + "\n",
                  "application/json");
}

void json_reply(httplib::Response& res, const nlohmann::json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump() + "\n", "application/json");
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A page for a browser that may not see the clinic (wrong token, wrong address).
void html_error(httplib::Response& res, int status, const std::string& title, const std::string& message) {
  res.status = status;
  res.set_content("<!doctype html><html><head><meta charset=\"utf-8\"><title>leukocrypt clinic</title>"
                  "<link rel=\"stylesheet\" href=\"/style.css\"></head><body><main class=\"denied\"><h1>" +
                      html_escape(title) + "</h1><p id=\"access-error\" class=\"error\">" + html_escape(message) +
                      "</p></main></body></html>",
                  "text/html; charset=utf-8");
}

// Runs a handler; typed errors become JSON errors the page shows as they are.
template <class F>
void guarded(httplib::Response& res, F&& f) {
  try {
    f();
  } catch (const ClinicError& e) {
    json_error(res, e.status(), e.code(), e.what());
  } catch (const InvalidArgument& e) {
    json_error(res, 400, "invalid_argument", e.what());
  } catch (const FormatError& e) {
    json_error(res, 400, "invalid_format", e.what());
  } catch (const std::exception& e) {
    json_error(res, 500, "internal_error", e.what());
  }
}

RequestFacts facts(const httplib::Request& req) {
  return {req.method, req.get_header_value("Host"), req.get_header_value("Origin"), req.get_header_value("Cookie"),
          req.get_header_value("X-CSRF-Token")};
}

nlohmann::json parse_body(const httplib::Request& req) {
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw ClinicError(400, "invalid_json", "the request body is not a JSON object");
  return j;
}

std::string string_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) throw ClinicError(400, "invalid_argument", std::string("'") + key + "' (text) is required");
  return j[key].get<std::string>();
}

std::string data_url_png(const std::string& png) {
  std::string b64(sodium_base64_encoded_len(png.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(png.data()), png.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);  // the terminating NUL
  return "data:image/png;base64," + b64;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Per-class counts and fractions of a finished screening.
nlohmann::json summary_of(const ScreeningRecord& s) {
  std::map<std::string, std::size_t> counts;
  std::size_t labelled = 0;
  for (const auto& c : s.cells)
    if (c.label >= 0) ++counts[c.class_name], ++labelled;
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& [name, n] : counts) classes[name] = {{"cells", n}, {"fraction", labelled ? double(n) / double(labelled) : 0.0}};
  return {{"cells", labelled}, {"classes", classes}};
}

void make_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("cannot create '" + dir.string() + "': " + ec.message());
  ::chmod(dir.c_str(), 0700);
}

}  // namespace

std::filesystem::path default_data_dir() {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::filesystem::path(x) / "leukocrypt-clinic";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local/share/leukocrypt-clinic";
  return "leukocrypt-clinic";
}

ClinicServer::ClinicServer(ClinicOptions options)
    : opt_(std::move(options)), guard_(opt_.allow_remote), http_(std::make_unique<httplib::Server>()) {
  require(opt_.allow_remote || AccessGuard::is_loopback_host(opt_.host),
          "the clinic holds secret keys and listens on 127.0.0.1 only; '" + opt_.host +
              "' is not a loopback address (use --allow-remote to serve other machines on purpose)");
  require(opt_.http_threads >= 1, "http threads must be at least 1");
  if (opt_.data_dir.empty()) opt_.data_dir = default_data_dir();
  make_private_dir(opt_.data_dir);
  make_private_dir(opt_.data_dir / "keys");
  store_ = std::make_unique<ClinicStore>(opt_.data_dir / "clinic.db");
  providers_ = std::make_unique<ProviderKeys>(*store_, opt_.data_dir / "keys", opt_.allow_insecure_for_tests);
  runner_ = std::make_unique<ScreeningRunner>(*store_, *providers_, opt_.data_dir / "work", opt_.allow_insecure_for_tests);
  install_routes();
}

ClinicServer::~ClinicServer() { stop(); }

std::string ClinicServer::url() const {
  const std::string host = opt_.host == "0.0.0.0" || opt_.host == "::" ? "127.0.0.1" : opt_.host;
  return "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port_) +
         "/?token=" + guard_.token();
}

void ClinicServer::install_routes() {
  auto& s = *http_;
  const int threads = opt_.http_threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_payload_max_length(kMaxBody);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool api = req.path.rfind("/api/", 0) == 0;
    try {
      auto f = facts(req);
      guard_.check_host(f);
      if (api) {
        guard_.check_session(f);
        guard_.check_state_change(f);
      }
    } catch (const ClinicError& e) {
      if (api) json_error(res, e.status(), e.code(), e.what());
      else html_error(res, e.status(), "Access refused", e.what());
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");  // the first URL carries the token
    res.set_header("Cache-Control", "no-store");
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    json_error(res, res.status, res.status == 404 ? "not_found" : "http_error",
               res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                 : "HTTP error " + std::to_string(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));

  s.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("token")) {
      if (!guard_.token_matches(req.get_param_value("token")))
        return html_error(res, 403, "Wrong access token",
                          "This address does not carry this clinic's access token. Open the address that "
                          "`leukocrypt clinic` printed when it started (it changes at every start).");
      res.set_header("Set-Cookie", guard_.set_cookie());
      res.set_redirect("/", 303);  // the token leaves the address bar and the history
      return;
    }
    try {
      guard_.check_session(facts(req));
    } catch (const ClinicError& e) {
      return html_error(res, 403, "Access token needed", e.what());
    }
    const auto* a = find_asset("/index.html");
    res.set_content(std::string(a->body), std::string(a->content_type));
  });
  s.Get(R"(/([a-z_-]+\.(js|css|svg)))", [](const httplib::Request& req, httplib::Response& res) {
    const auto* a = find_asset(req.path);
    if (!a) return json_error(res, 404, "not_found", "no such file: " + req.path);
    res.set_content(std::string(a->body), std::string(a->content_type));
  });
  s.Get("/api/session", [this](const httplib::Request&, httplib::Response& res) {
    json_reply(res, {{"csrf", guard_.csrf()},
                     {"packing", "latency up to " + std::to_string(kLatencyMaxCells) +
                                     " cells when the provider serves it, else throughput"},
                     {"cell_limits", {{"max_cells", CellPool::kMaxCells}, {"max_file_bytes", CellPool::kMaxFileBytes}}}});
  });
  install_provider_routes();
  install_cell_routes();
  install_screening_routes();
}

void ClinicServer::install_provider_routes() {
  auto& s = *http_;
  s.Get("/api/providers", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& p : store_->list_providers()) a.push_back(providers_->describe(p));
      json_reply(res, {{"providers", a}});
    });
  });
  s.Post("/api/providers", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto j = parse_body(req);
      auto p = providers_->add(string_field(j, "name"), string_field(j, "url"), j.value("token", ""));
      json_reply(res, providers_->describe(p), 201);
    });
  });
  s.Post(R"(/api/providers/([0-9a-f]{1,32})/keys)", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { json_reply(res, providers_->describe(providers_->renew(req.matches[1]))); });
  });
}

void ClinicServer::install_cell_routes() {
  auto& s = *http_;
  // One file per request: the raw bytes, its path in ?name= and the model's input side in ?size=.
  s.Post("/api/cells", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      const auto name = req.get_param_value("name");
      if (name.empty() || name.size() > 1024) throw ClinicError(400, "invalid_argument", "?name= (1-1024 characters) is required");
      int size = 0;
      try {
        size = std::stoi(req.get_param_value("size"));
      } catch (const std::exception&) {
        throw ClinicError(400, "invalid_argument", "?size= (the model's input side in pixels) is required");
      }
      auto r = pool_.add(name, req.body, size);
      auto j = r.to_json();
      if (r.cell) j["thumb"] = data_url_png(r.cell->thumb_png);
      json_reply(res, j, r.cell ? 201 : 200);
    });
  });
  s.Delete("/api/cells", [this](const httplib::Request&, httplib::Response& res) {
    pool_.clear();
    json_reply(res, {{"cells", 0}});
  });
}

nlohmann::json ClinicServer::screening_json(const std::string& id) {
  auto s = store_->find_screening(id);
  if (!s) throw ClinicError(404, "screening_not_found", "no screening '" + id + "'");
  auto j = s->to_json(true);
  for (std::size_t i = 0; i < s->cells.size(); ++i) j["cells"][i]["thumb"] = data_url_png(s->cells[i].thumb_png);
  j["summary"] = summary_of(*s);
  auto live = runner_->live(id);
  if (!live.empty()) j["live"] = live;
  if (auto p = store_->find_provider(s->provider_id)) j["provider"] = providers_->describe(*p);
  return j;
}

void ClinicServer::install_screening_routes() {
  auto& s = *http_;
  s.Post("/api/screenings", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      auto j = parse_body(req);
      auto provider = providers_->get(string_field(j, "provider_id"));
      if (!j.contains("cells") || !j["cells"].is_array() || j["cells"].empty())
        throw ClinicError(400, "no_cells", "add cells before screening ('cells': a list of cell ids)");
      std::vector<std::string> ids;
      for (const auto& c : j["cells"]) {
        if (!c.is_string()) throw ClinicError(400, "invalid_argument", "'cells' must hold cell ids (text)");
        ids.push_back(c.get<std::string>());
      }
      const int size = provider.to_json()["image_size"].get<int>();
      auto cells = pool_.take(ids, size);
      std::vector<ScreeningCell> records;
      std::vector<client::CellInput> inputs;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        records.push_back({cells[i].name, cells[i].folder_class, cells[i].thumb_png, -1, "", 0});
        // The provider sees "cell-<n>", never the file names (which may name the patient).
        inputs.push_back({"cell-" + std::to_string(i + 1), std::move(cells[i].pixels)});
      }
      auto id = runner_->start(provider, j.value("patient", ""), std::move(records), std::move(inputs));
      json_reply(res, {{"id", id}}, 202);
    });
  });
  s.Get("/api/screenings", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& r : store_->list_screenings()) a.push_back(r.to_json(false));
      json_reply(res, {{"screenings", a}});
    });
  });
  s.Get(R"(/api/screenings/([0-9a-f]{1,32}))", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { json_reply(res, screening_json(req.matches[1])); });
  });
  s.Post(R"(/api/screenings/([0-9a-f]{1,32})/cancel)", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      const std::string id = req.matches[1];
      if (!runner_->cancel(id))
        throw ClinicError(409, "not_running", "screening '" + id + "' is not running (finished or unknown)");
      json_reply(res, {{"id", id}, {"cancelling", true}}, 202);
    });
  });
  s.Get(R"(/api/screenings/([0-9a-f]{1,32})/export\.(csv|json))", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      const std::string id = req.matches[1], format = req.matches[2];
      auto sr = store_->find_screening(id);
      if (!sr) throw ClinicError(404, "screening_not_found", "no screening '" + id + "'");
      res.set_header("Content-Disposition", "attachment; filename=\"screening-" + id + "." + format + "\"");
      if (format == "json") {
        auto j = sr->to_json(true);
        j["summary"] = summary_of(*sr);
        res.set_content(j.dump(2) + "\n", "application/json");
        return;
      }
      std::ostringstream csv;
      csv << "index,cell,folder_class,label,class,probability\n";
      for (std::size_t i = 0; i < sr->cells.size(); ++i) {
        const auto& c = sr->cells[i];
        csv << i << "," << csv_field(c.name) << "," << c.folder_class << ",";
        if (c.label >= 0) csv << c.label << "," << csv_field(c.class_name) << "," << c.probability;
        else csv << ",,";
        csv << "\n";
      }
      res.set_content(csv.str(), "text/csv; charset=utf-8");
    });
  });
}

int ClinicServer::bind() {
  port_ = bind_http(*http_, opt_.host, opt_.port);
  guard_.set_port(port_);
  return port_;
}

void ClinicServer::serve() { http_->listen_after_bind(); }

int ClinicServer::start() {
  int port = bind();
  serve_thread_ = std::thread([this] { serve(); });
  wait_until_listening(*http_, port, "clinic");
  return port;
}

void ClinicServer::stop() {
  if (http_) http_->stop();
  if (serve_thread_.joinable()) serve_thread_.join();
  if (runner_) runner_->stop();
}

}  // namespace leukocrypt::clinic
