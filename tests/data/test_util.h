// Shared helpers for the data tests: the real-data folder and scratch directories.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace leukocrypt::data::test {

namespace fs = std::filesystem;

inline fs::path data_root() {
  if (const char* env = std::getenv("LEUKOCRYPT_DATA_DIR"); env && *env) return env;
  return LEUKOCRYPT_DATA_DIR;
}
inline fs::path originals() { return data_root() / "cnmc-originals"; }
inline fs::path fold225() { return data_root() / "cnmc-fold1-225"; }

// A scratch folder under the system temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("lc-data-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& p) const { return path_ / p; }

 private:
  fs::path path_;
};

inline std::vector<fs::path> original_bmps() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(originals()))
    if (e.path().extension() == ".bmp") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Copies the 12 original BMPs into <dir>/{all,hem}/ by the class in their name.
inline void make_cnmc_folder(const fs::path& dir) {
  fs::create_directories(dir / "all");
  fs::create_directories(dir / "hem");
  for (const auto& p : original_bmps()) {
    const std::string name = p.filename().string();
    const bool hem = name.find("_hem.") != std::string::npos;
    fs::copy_file(p, dir / (hem ? "hem" : "all") / name);
  }
}

// Keeps only the first `keep` bytes of a file.
inline void truncate_file(const fs::path& p, std::size_t keep) { fs::resize_file(p, keep); }

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs f and returns the what() of the exception of type E it throws (fails if none).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no exception thrown";
  return "";
}

}  // namespace leukocrypt::data::test
