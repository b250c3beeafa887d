// The clinic's local records (SQLite, mode 0600 in the clinic's data directory): the providers the
// key holder works with (URL, API token, the model card the keys were made for, key id and
// fingerprint) and every screening with its cells (name, thumbnail as the model saw it, label,
// probability), so earlier screenings can be reopened. No key material is stored here: keys live
// in per-provider key directories (client::KeyPaths) next to the database.
#pragma once

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace leukocrypt::clinic {

struct ProviderRecord {
  std::string id, name, url, token;
  nlohmann::json card = nlohmann::json::object();  // GET /v1/model when the keys were made
  std::string key_id, key_fingerprint;             // of the keys made for `card`
  bool registered = false;                         // eval.key accepted by the provider
  double created = 0;
  // What the page sees: never the API token (only whether one is set), never key material.
  nlohmann::json to_json() const;
};

struct ScreeningCell {
  std::string name;
  std::string folder_class;  // "all"/"hem" from a C-NMC folder, else ""
  std::string thumb_png;     // the S x S image the model sees, PNG
  int label = -1;            // -1 until decrypted
  std::string class_name;
  double probability = 0;
};

struct ScreeningRecord {
  std::string id, provider_id, patient, packing;
  std::string status;  // waiting|encrypting|uploading|queued|running|downloading|decrypting|done|failed|cancelled
  std::string error_code, error_message, job_id;
  double created = 0, finished = 0;
  std::size_t cell_count = 0;
  std::vector<ScreeningCell> cells;  // filled by find_screening only
  nlohmann::json to_json(bool with_cells) const;
};

bool is_final_status(const std::string& status);

class ClinicStore {
 public:
  // Opens or creates the database. Screenings a stopped clinic left unfinished are marked failed.
  explicit ClinicStore(const std::filesystem::path& path);
  ~ClinicStore();
  ClinicStore(const ClinicStore&) = delete;
  ClinicStore& operator=(const ClinicStore&) = delete;

  void put_provider(const ProviderRecord& p);  // insert or replace
  std::optional<ProviderRecord> find_provider(const std::string& id);
  std::vector<ProviderRecord> list_providers();

  void create_screening(const ScreeningRecord& s);  // with its cells
  void set_status(const std::string& id, const std::string& status, const std::string& error_code = "",
                  const std::string& error_message = "");
  void set_job(const std::string& id, const std::string& job_id);
  // The packing the request was encrypted in (the planned one unless the keys could not serve it).
  void set_packing(const std::string& id, const std::string& packing);
  // Stores the decrypted labels (cells in the screening's order) and marks it done.
  void save_results(const std::string& id, const std::vector<ScreeningCell>& cells);
  std::optional<ScreeningRecord> find_screening(const std::string& id);
  std::vector<ScreeningRecord> list_screenings();  // newest first, without cells

 private:
  void exec(const char* sql);
  // One connection shared by the HTTP threads and the screening worker: transactions must not
  // interleave (recursive: save_results calls set_status).
  std::recursive_mutex mu_;
  sqlite3* db_ = nullptr;
};

double now_seconds();

}  // namespace leukocrypt::clinic
