// prepare_dataset: discovery -> parallel preprocessing -> split -> atomic dataset directory.
#include "data/prepare.h"

#include <unistd.h>

#include <exception>
#include <random>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "data/formats.h"

namespace leukocrypt::data {

namespace fs = std::filesystem;

namespace {

// Owns the temporary output directory until it is committed; removes it otherwise.
class TempDir {
 public:
  explicit TempDir(const fs::path& target) {
    const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw IoError("cannot create '" + parent.string() + "': " + ec.message());
    std::random_device rd;
    path_ = parent / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                      std::to_string(rd() % 1000000));
    if (!fs::create_directory(path_, ec) || ec)
      throw IoError("cannot create temporary folder '" + path_.string() + "': " + ec.message());
  }
  ~TempDir() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }

  // Renames the temporary directory to `target`, replacing an existing one when force is set.
  void commit(const fs::path& target, bool force) {
    std::error_code ec;
    fs::path old;
    if (fs::exists(target, ec)) {
      if (!force) throw IoError("output '" + target.string() + "' already exists (use --force to replace it)");
      old = path_.string() + ".old";
      fs::rename(target, old, ec);
      if (ec) throw IoError("cannot move the old '" + target.string() + "' aside: " + ec.message());
    }
    fs::rename(path_, target, ec);
    if (ec) {
      std::error_code ec2;
      if (!old.empty()) fs::rename(old, target, ec2);
      throw IoError("cannot rename '" + path_.string() + "' to '" + target.string() + "': " + ec.message());
    }
    committed_ = true;
    if (!old.empty()) fs::remove_all(old, ec);
  }

 private:
  fs::path path_;
  bool committed_ = false;
};

std::vector<const Record*> pointers(const std::vector<Record>& records, const char* split) {
  std::vector<const Record*> out;
  for (const auto& r : records)
    if (!split || r.split == split) out.push_back(&r);
  return out;
}

// "2" < "16" < "H10" < "H14": letters prefix first, then the number.
std::vector<std::pair<std::string, std::array<std::size_t, 2>>> natural_order(
    const std::map<std::string, std::array<std::size_t, 2>>& m) {
  std::vector<std::pair<std::string, std::array<std::size_t, 2>>> v(m.begin(), m.end());
  auto key = [](const std::string& s) {
    std::size_t d = s.find_first_of("0123456789");
    std::string prefix = s.substr(0, d);
    std::string digits = d == std::string::npos ? "" : s.substr(d);
    return std::make_tuple(prefix, digits.size(), digits);
  };
  std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) { return key(a.first) < key(b.first); });
  return v;
}

nlohmann::json counts_json(const std::array<std::size_t, 2>& c) {
  return {{"all", c[0]}, {"hem", c[1]}, {"total", c[0] + c[1]}};
}

}  // namespace

nlohmann::json PrepareSummary::to_json() const {
  nlohmann::json j;
  j["out"] = out.string();
  j["layout"] = layout_name(layout);
  j["total"] = total;
  j["train"] = train;
  j["test"] = test;
  j["per_label"] = counts_json(per_label);
  j["per_subject"] = nlohmann::json::object();
  for (const auto& [s, c] : per_subject) {
    j["per_subject"][s] = counts_json(c);
    if (split.subject_group.count(s)) j["per_subject"][s]["group"] = split.subject_group.at(s);
  }
  j["per_group"] = nlohmann::json::object();
  for (const auto& [g, c] : per_group) j["per_group"][g] = counts_json(c);
  j["split"] = {{"kind", split.kind}};
  if (split.kind == "patient") {
    j["split"]["groups"] = split.groups;
    j["split"]["test_group"] = split.test_group;
    j["split"]["group_source"] = split.group_source;
  } else {
    j["split"]["test_fraction"] = split.test_fraction;
    j["split"]["seed"] = split.seed;
  }
  j["skipped"] = skipped.size();
  j["skipped_files"] = nlohmann::json::array();
  for (const auto& b : skipped) j["skipped_files"].push_back({{"source", b.source}, {"reason", b.reason}});
  j["ignored_non_images"] = ignored_non_images;
  j["seconds"] = seconds;
  j["stage_seconds"] = nlohmann::json::object();
  for (const auto& [name, sec] : stages.stages()) j["stage_seconds"][name] = sec;
  return j;
}

std::string PrepareSummary::to_text() const {
  std::ostringstream o;
  o << "prepared " << total << " cells (" << per_label[0] << " all, " << per_label[1] << " hem) from "
    << per_subject.size() << " subjects [" << layout_name(layout) << "] in " << seconds << " s -> " << out.string()
    << "\n";
  if (split.kind == "patient")
    o << "split: patient, groups from " << split.group_source << ", test group " << split.test_group << "\n";
  else
    o << "split: random (stratified), test fraction " << split.test_fraction << ", seed " << split.seed
      << " (leaks patients across train/test)\n";
  o << "train " << train << ", test " << test << "\n";
  for (const auto& [g, c] : per_group)
    o << "  group " << g << (g == split.test_group ? " (test)" : "") << ": " << c[0] << " all, " << c[1] << " hem\n";
  o << "subject\tgroup\tall\them\n";
  for (const auto& [s, c] : natural_order(per_subject)) {
    auto it = split.subject_group.find(s);
    o << s << '\t' << (it == split.subject_group.end() ? "-" : it->second) << '\t' << c[0] << '\t' << c[1] << "\n";
  }
  if (!skipped.empty()) {
    o << "warning: skipped " << skipped.size() << " bad input(s):\n";
    for (std::size_t i = 0; i < skipped.size() && i < 20; ++i) o << "  " << skipped[i].reason << "\n";
    if (skipped.size() > 20) o << "  ... (" << skipped.size() - 20 << " more)\n";
  }
  return o.str();
}

nlohmann::json dataset_metadata(const PrepareOptions& options, const PrepareSummary& s) {
  nlohmann::json j;
  j["format_version"] = 1;
  j["image_size"] = options.preprocess.size;
  j["channels"] = 3;
  j["pixel_layout"] = "uint8 0..255, planar R,G,B (CHW)";
  j["label_names"] = {"all", "hem"};
  j["label_convention"] = "0 = all (ALL, malignant lymphoblast, cancer), 1 = hem (normal); the paper's convention";
  j["preprocess"] = {
      {"window", options.preprocess.window},
      {"window_note", "centred square window, side = window x the shorter side of the frame (default 320/450); "
                      "the same field of view at any input resolution; cells are not rescaled individually"},
      {"resample", "exact area (box) average to image_size x image_size"}};
  const bool idb2 = s.layout == Layout::kAllIdb2;
  j["source"] = {{"input", fs::absolute(options.input).lexically_normal().string()},
                 {"layout", layout_name(s.layout)},
                 {"segmented", !idb2}};
  j["source"]["note"] =
      idb2 ? "ALL-IDB2: ImXXX_1 = blast (label 0), ImXXX_0 = normal (label 1); the cell is NOT segmented (other "
             "cells and plasma visible); no subject ids, so every image is its own subject"
           : "C-NMC 2019: one segmented cell centred on black; subject from UID_<subject>_<image>_<cell>_<all|hem>, "
             "class from the all/ or hem/ folder";
  nlohmann::json split = {{"kind", s.split.kind}};
  if (s.split.kind == "patient") {
    split["groups"] = s.split.groups;
    split["test_group"] = s.split.test_group;
    split["group_source"] = s.split.group_source;
    split["subject_groups"] = s.split.subject_group;
    split["leaks_patients"] = false;
    split["note"] = "patient-disjoint: no subject has cells in more than one group";
  } else {
    split["test_fraction"] = s.split.test_fraction;
    split["seed"] = s.split.seed;
    split["stratified_by_class"] = true;
    split["leaks_patients"] = true;
    split["note"] = "the paper's random 80/20 protocol, for comparison only: cells of the same patient fall on "
                    "both sides, so test accuracy overstates accuracy on new patients";
  }
  j["split"] = split;
  const auto summary = s.to_json();
  j["counts"] = {{"total", s.total},           {"train", s.train},
                 {"test", s.test},             {"per_label", summary["per_label"]},
                 {"per_subject", summary["per_subject"]}, {"per_group", summary["per_group"]}};
  j["skipped"] = summary["skipped_files"];
  j["files"] = {{"images.bin", "all records, CIFAR-10 binary: 1 label byte + 3*S*S bytes planar R,G,B"},
                {"train.bin", "train side, CIFAR-10 binary"},
                {"test.bin", "test side, CIFAR-10 binary"},
                {"train.tsv", "train side, CryptoNets TSV: label then 3*S*S values channel-major, tab-separated"},
                {"test.tsv", "test side, CryptoNets TSV"},
                {"manifest.tsv", "index, source, subject, label, group, split; one row per images.bin record"}};
  return j;
}

PrepareSummary prepare_dataset(const PrepareOptions& options_in) {
  Timer timer;
  PrepareOptions options = options_in;
  options.out = options.out.lexically_normal();
  if (!options.out.has_filename()) options.out = options.out.parent_path();  // "ds/" -> "ds"
  require(!options.out.empty() && options.out.filename() != "." && options.out.filename() != "..",
          "--out must name a dataset folder, got '" + options_in.out.string() + "'");
  options.preprocess.validate();
  options.split.validate();
  require(!options.input.empty(), "--input is required");
  std::error_code ec;
  if (fs::exists(options.out, ec) && !options.force)
    throw IoError("output '" + options.out.string() + "' already exists (use --force to replace it)");

  PrepareSummary s;
  Timer stage;
  Discovery found = discover_cells(options.input, options.layout, options.skip_bad);
  s.layout = found.layout;
  s.skipped = found.bad;
  s.ignored_non_images = found.ignored_non_images;
  s.stages.add("discover", stage.seconds());
  stage.reset();

  // Decode + preprocess every cell in parallel; errors are kept per cell so the reported one
  // (without --skip-bad) is the first in file order, whatever the thread timing.
  const std::size_t n = found.cells.size();
  std::vector<Record> records(n);
  std::vector<std::exception_ptr> errors(n);
  {
    ProgressBar bar("prepare", n, options.progress);
    ThreadPool::global().parallel_for(0, n, [&](std::size_t i) {
      const CellFile& c = found.cells[i];
      try {
        records[i].pixels = preprocess_image(c.path, options.preprocess);
      } catch (...) {
        errors[i] = std::current_exception();
      }
      records[i].label = c.label;
      records[i].source = c.source;
      records[i].subject = c.subject;
      bar.tick();
    });
  }
  s.stages.add("decode+preprocess", stage.seconds());
  stage.reset();
  std::vector<Record> kept;
  kept.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!errors[i]) {
      kept.push_back(std::move(records[i]));
      continue;
    }
    if (!options.skip_bad) std::rethrow_exception(errors[i]);
    try {
      std::rethrow_exception(errors[i]);
    } catch (const std::exception& e) {
      s.skipped.push_back({found.cells[i].source, e.what()});
    }
  }
  if (kept.empty()) throw FormatError("no cell of '" + options.input.string() + "' could be read");

  s.split = assign_split(kept, options.split);
  for (const auto& r : kept) {
    ++s.per_label[r.label];
    ++s.per_subject[r.subject][r.label];
    if (!r.group.empty()) ++s.per_group[r.group][r.label];
    ++(r.split == "test" ? s.test : s.train);
  }
  s.total = kept.size();
  s.out = options.out;
  s.stages.add("split", stage.seconds());
  stage.reset();

  TempDir tmp(options.out);
  const int size = options.preprocess.size;
  write_cifar_bin(tmp.path() / "images.bin", pointers(kept, nullptr), size);
  write_cifar_bin(tmp.path() / "train.bin", pointers(kept, "train"), size);
  write_cifar_bin(tmp.path() / "test.bin", pointers(kept, "test"), size);
  write_tsv(tmp.path() / "train.tsv", pointers(kept, "train"), size);
  write_tsv(tmp.path() / "test.tsv", pointers(kept, "test"), size);
  write_manifest(tmp.path() / "manifest.tsv", kept);
  s.seconds = timer.seconds();
  write_bytes(tmp.path() / "dataset.json", dataset_metadata(options, s).dump(2) + "\n");
  tmp.commit(options.out, options.force);
  s.stages.add("write", stage.seconds());
  s.seconds = timer.seconds();
  return s;
}

}  // namespace leukocrypt::data
