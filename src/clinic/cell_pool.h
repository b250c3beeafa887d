// Cells the lab technician dropped on the page, waiting to be screened. Each upload is one image
// file's bytes and the path the browser gave it (a file, or a file inside a dropped folder): it is
// decoded and preprocessed exactly as `prepare` and `leukocrypt encrypt` do (crop + area resize to
// the provider model's S x S), and kept with a PNG thumbnail of what the model will see. Files that
// are not usable come back with the reason and are not kept. Nothing is read from disk: the clinic
// only sees what the user dropped.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace leukocrypt::clinic {

struct PooledCell {
  std::string id, name;       // name: the path the browser sent, '/' separated
  std::string folder_class;   // "all"/"hem" when the C-NMC layout says so
  int size = 0;               // S
  std::vector<std::uint8_t> pixels;  // 3*S*S planar RGB
  std::string thumb_png;
};

// Outcome of one upload: a kept cell, or the reason the file was rejected.
struct AddResult {
  std::optional<PooledCell> cell;
  std::string name, reason;
  nlohmann::json to_json() const;
};

class CellPool {
 public:
  static constexpr std::size_t kMaxCells = 20000;
  static constexpr std::size_t kMaxFileBytes = std::size_t(64) << 20;

  // Decodes and preprocesses `bytes` (named `name`) to S x S. Never throws for a bad file: the
  // reason is in the result.
  AddResult add(const std::string& name, const std::string& bytes, int size);
  // The cells with these ids in this order; throws ClinicError 400 for an unknown id or a cell
  // prepared at another size than `size`.
  std::vector<PooledCell> take(const std::vector<std::string>& ids, int size) const;
  void clear();
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, PooledCell> cells_;
};

// "all"/"hem" from the C-NMC layout (a parent folder named all/ or hem/), "" otherwise. Throws
// FormatError when the file name's class (UID_..._hem) contradicts its folder.
std::string cnmc_folder_class(const std::string& name);
// PNG of a 3*S*S planar RGB image.
std::string thumbnail_png(const std::vector<std::uint8_t>& planar, int size);

}  // namespace leukocrypt::clinic
