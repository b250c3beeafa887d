// Test helper: real C-NMC cell files — the first `per_class` by name of each class folder
// (all/, then hem/) of a C-NMC folder, by default the 225-px copy of fold 1 in the data dir.
#pragma once

#include <algorithm>
#include <filesystem>
#include <vector>

namespace leukocrypt::testing {

inline std::vector<std::filesystem::path> first_cells(const std::filesystem::path& root, std::size_t per_class) {
  std::vector<std::filesystem::path> out;
  for (const char* cls : {"all", "hem"}) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(root / cls)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    files.resize(std::min(files.size(), per_class));
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

#ifdef LEUKOCRYPT_DATA_DIR
inline std::vector<std::filesystem::path> real_cells(std::size_t per_class) {
  return first_cells(std::filesystem::path(LEUKOCRYPT_DATA_DIR) / "cnmc-fold1-225", per_class);
}
#endif

}  // namespace leukocrypt::testing
