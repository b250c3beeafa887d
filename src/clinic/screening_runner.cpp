// Background screenings (see screening_runner.h).
#include "clinic/screening_runner.h"

#include <sys/stat.h>

#include <iostream>

#include "client/service_client.h"
#include "clinic/clinic_error.h"
#include "clinic/packing.h"
#include "service/wire/container.h"

namespace leukocrypt::clinic {
namespace {

// Thrown from progress callbacks when the technician cancels.
struct Cancelled : Error {
  Cancelled() : Error("cancelled") {}
};

constexpr auto kJobTimeout = std::chrono::hours(6);

// Deletes the staged request whatever happens.
struct RemoveFile {
  std::filesystem::path path;
  ~RemoveFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

}  // namespace

ScreeningRunner::ScreeningRunner(ClinicStore& store, ProviderKeys& providers, std::filesystem::path work_dir,
                                 bool allow_insecure_for_tests)
    : store_(store), providers_(providers), work_dir_(std::move(work_dir)), allow_insecure_(allow_insecure_for_tests) {
  std::filesystem::create_directories(work_dir_);
  ::chmod(work_dir_.c_str(), 0700);
  worker_ = std::thread([this] { worker_loop(); });
}

ScreeningRunner::~ScreeningRunner() { stop(); }

void ScreeningRunner::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, l] : live_) l->cancel = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::string ScreeningRunner::start(const ProviderRecord& provider, const std::string& patient,
                                   std::vector<ScreeningCell> cells, std::vector<client::CellInput> inputs) {
  if (inputs.empty()) throw ClinicError(400, "no_cells", "add cells before screening");
  ScreeningRecord s;
  s.id = wire::random_id().substr(0, 16);
  s.provider_id = provider.id;
  s.patient = patient;
  s.packing = nn::to_string(planned_layout(provider.card, inputs.size()));
  s.status = "waiting";
  s.created = now_seconds();
  s.cells = std::move(cells);
  store_.create_screening(s);
  {
    std::lock_guard lock(mu_);
    auto l = std::make_unique<Live>();
    l->status = s.status;
    live_[s.id] = std::move(l);
    queue_.push_back({s.id, provider.id, std::move(inputs)});
  }
  cv_.notify_all();
  return s.id;
}

nlohmann::json ScreeningRunner::live(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return nlohmann::json::object();
  nlohmann::json j = {{"status", it->second->status}, {"stage_progress", it->second->progress}};
  if (it->second->provider_queued >= 0) j["provider_queued"] = it->second->provider_queued;
  std::size_t ahead = 0;
  for (const auto& t : queue_) {
    if (t.id == id) {
      j["clinic_queue_position"] = ahead + 1;
      break;
    }
    ++ahead;
  }
  return j;
}

bool ScreeningRunner::cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return false;
  it->second->cancel = true;
  for (auto q = queue_.begin(); q != queue_.end(); ++q)
    if (q->id == id) {
      queue_.erase(q);
      store_.set_status(id, "cancelled", "cancelled", "cancelled before it started");
      live_.erase(it);
      break;
    }
  return true;
}

void ScreeningRunner::check(const Live& live) {
  if (live.cancel) throw Cancelled();
}

void ScreeningRunner::progress(Live& live, double f) {
  check(live);
  std::lock_guard lock(mu_);
  live.progress = f;
}

void ScreeningRunner::set_stage(const std::string& id, Live& live, const std::string& status) {
  {
    std::lock_guard lock(mu_);
    live.status = status;
    live.progress = 0;
  }
  store_.set_status(id, status);
}

void ScreeningRunner::worker_loop() {
  while (true) {
    Task task;
    Live* live = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      task = std::move(queue_.front());
      queue_.pop_front();
      live = live_.at(task.id).get();
    }
    try {
      run(task, *live);
    } catch (const std::exception& e) {
      if (live->cancel) {  // also an upload the cancel cut short (the client reports it as an IoError)
        std::lock_guard lock(mu_);
        std::string why = stopping_ ? "the clinic stopped" : "cancelled by the user";
        if (live->job_deleted) why += "; the provider's job was deleted";
        store_.set_status(task.id, "cancelled", "cancelled", why);
        live_.erase(task.id);
        continue;
      }
      std::string url;
      if (auto p = store_.find_provider(task.provider_id)) url = p->url;
      auto err = provider_error(e, url);
      store_.set_status(task.id, "failed", err.code(), err.what());
    }
    std::lock_guard lock(mu_);
    live_.erase(task.id);
  }
  // Screenings still queued when the clinic stops.
  std::lock_guard lock(mu_);
  for (const auto& t : queue_) store_.set_status(t.id, "cancelled", "cancelled", "the clinic stopped");
  queue_.clear();
}

void ScreeningRunner::run(const Task& task, Live& live) {
  const ProviderRecord p = providers_.get(task.provider_id);
  auto sc = open_provider(p);
  const auto card = providers_.check_card(p, sc);  // model_card_changed before any work
  client::KeyHolder keys(providers_.paths(p.id), allow_insecure_);
  // Registered when the provider was added; again only if the provider no longer holds them (with
  // Galois keys eval.key is gigabytes: re-sending it per screening cost more than the screening).
  if (!sc.key_registered(keys.key_id())) sc.register_keys_file(providers_.paths(p.id).eval);

  set_stage(task.id, live, "encrypting");
  RemoveFile request{work_dir_ / ("request-" + task.id + ".lcx")};
  const auto layout =
      encrypt_request(keys, card, task.inputs, request.path,
                      [&](std::size_t done, std::size_t total) { progress(live, total ? double(done) / double(total) : 0); });
  store_.set_packing(task.id, nn::to_string(layout));

  set_stage(task.id, live, "uploading");
  std::string job = sc.submit_file(request.path, [&](std::uint64_t sent, std::uint64_t total) {
    progress(live, total ? double(sent) / double(total) : 0);
  });
  std::filesystem::remove(request.path);
  store_.set_job(task.id, job);
  try {
    follow_job(task, live, sc, job, keys);
  } catch (...) {
    if (live.cancel) delete_provider_job(sc, job, live);
    throw;
  }
}

void ScreeningRunner::delete_provider_job(client::ServiceClient& sc, const std::string& job, Live& live) {
  try {
    sc.delete_job(job);
    live.job_deleted = true;
  } catch (const std::exception& e) {  // the cancel still stands; say what is left at the provider
    std::cerr << "leukocrypt clinic: could not delete job " << job << " at the provider: " << e.what() << std::endl;
  }
}

void ScreeningRunner::follow_job(const Task& task, Live& live, client::ServiceClient& sc, const std::string& job,
                                 const client::KeyHolder& keys) {
  set_stage(task.id, live, "queued");
  sc.wait(job, kJobTimeout, [&](const nlohmann::json& st) {
    check(live);
    const auto s = st.value("status", "");
    if (s == "pending") {
      long queued = -1;
      try {
        queued = sc.health().value("queued", -1L);
      } catch (const std::exception&) {
      }
      std::lock_guard lock(mu_);
      live.provider_queued = queued;
    } else if (s == "running" && live.status != "running") {
      set_stage(task.id, live, "running");
    }
    if (s == "running") progress(live, st.value("progress", 0.0));
  });

  set_stage(task.id, live, "downloading");
  const auto result = sc.result(job);
  check(live);
  set_stage(task.id, live, "decrypting");
  auto cells = keys.decrypt(result);
  auto stored = store_.find_screening(task.id);
  if (!stored || stored->cells.size() != cells.size())
    throw ClinicError(502, "provider_error", "the result holds " + std::to_string(cells.size()) + " cells, " +
                                                 std::to_string(task.inputs.size()) + " were sent");
  for (std::size_t i = 0; i < cells.size(); ++i) {
    stored->cells[i].label = cells[i].label;
    stored->cells[i].class_name = cells[i].class_name;
    stored->cells[i].probability = cells[i].probability;
  }
  store_.save_results(task.id, stored->cells);
}

}  // namespace leukocrypt::clinic
