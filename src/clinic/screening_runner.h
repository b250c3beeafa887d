// Runs screenings in the background, one at a time (encryption uses every core): check the
// provider's model card against the keys, encrypt the cells into a request file in the clinic's
// work directory, upload it (progress), follow the job (the provider's queue, then its evaluation
// progress), download the result, decrypt it with the provider's secret key — which stays in this
// process — and store the labels. The page polls live() for the stage and its progress.
// cancel() stops a screening at its next progress report (encrypting, uploading or waiting); once
// the request is at the provider, its job there is deleted (DELETE /v1/jobs/{id}).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "client/keyholder.h"
#include "client/service_client.h"
#include "clinic/clinic_store.h"
#include "clinic/provider_keys.h"

namespace leukocrypt::clinic {

class ScreeningRunner {
 public:
  ScreeningRunner(ClinicStore& store, ProviderKeys& providers, std::filesystem::path work_dir,
                  bool allow_insecure_for_tests = false);
  ~ScreeningRunner();
  ScreeningRunner(const ScreeningRunner&) = delete;
  ScreeningRunner& operator=(const ScreeningRunner&) = delete;

  // Records the screening (cells with their thumbnails) and queues it. Returns its id.
  std::string start(const ProviderRecord& provider, const std::string& patient,
                    std::vector<ScreeningCell> cells, std::vector<client::CellInput> inputs);
  // Stage progress of a screening this process runs: {stage_progress, provider_queued, ...}; an
  // empty object when it is not running here (finished, or from an earlier start).
  nlohmann::json live(const std::string& id) const;
  // Asks a queued or running screening to stop; false if it is not running here.
  bool cancel(const std::string& id);
  // Stops the worker (the screening in progress is marked cancelled).
  void stop();

 private:
  struct Task {
    std::string id, provider_id;
    std::vector<client::CellInput> inputs;
  };
  struct Live {
    std::string status;
    double progress = 0;
    long provider_queued = -1;
    std::atomic<bool> cancel{false};
    bool job_deleted = false;  // cancelled after upload, and the provider deleted the job
  };
  void worker_loop();
  void run(const Task& task, Live& live);
  // From the provider's queue to the stored labels.
  void follow_job(const Task& task, Live& live, client::ServiceClient& sc, const std::string& job,
                  const client::KeyHolder& keys);
  static void delete_provider_job(client::ServiceClient& sc, const std::string& job, Live& live);
  void set_stage(const std::string& id, Live& live, const std::string& status);
  // Throw Cancelled when the technician cancelled (called at every progress report).
  static void check(const Live& live);
  void progress(Live& live, double fraction);

  ClinicStore& store_;
  ProviderKeys& providers_;
  std::filesystem::path work_dir_;
  bool allow_insecure_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  std::map<std::string, std::unique_ptr<Live>> live_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace leukocrypt::clinic
