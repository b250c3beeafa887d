// Loading a prepared dataset directory (dataset.json + images.bin + manifest.tsv), validated.
#include "data/dataset.h"

#include <nlohmann/json.hpp>
#include <map>
#include <set>

#include "common/error.h"
#include "common/paths.h"
#include "data/formats.h"

namespace leukocrypt::data {

namespace fs = std::filesystem;

std::vector<const Record*> Dataset::select(const std::string& name) const {
  std::vector<const Record*> out;
  const bool by_split = name == "train" || name == "test";
  for (const auto& r : records)
    if (by_split ? r.split == name : r.group == name) out.push_back(&r);
  return out;
}

namespace {

template <class T>
T field(const nlohmann::json& j, const char* key, const fs::path& file) {
  if (!j.contains(key)) throw FormatError("'" + file.string() + "' has no '" + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw FormatError("'" + file.string() + "' field '" + key + "' has the wrong type");
  }
}

}  // namespace

Dataset load_dataset(const fs::path& dir) {
  const fs::path meta_path = dir / "dataset.json";
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(read_file(meta_path, std::size_t(64) << 20));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("'" + meta_path.string() + "' is not valid JSON: " + e.what());
  }
  if (!meta.is_object()) throw FormatError("'" + meta_path.string() + "' is not a JSON object");
  const int version = field<int>(meta, "format_version", meta_path);
  if (version != 1)
    throw FormatError("'" + meta_path.string() + "' has format_version " + std::to_string(version) + ", expected 1");
  Dataset d;
  d.image_size = field<int>(meta, "image_size", meta_path);
  d.channels = field<int>(meta, "channels", meta_path);
  if (d.image_size < 1 || d.image_size > 1024)
    throw FormatError("'" + meta_path.string() + "' image_size " + std::to_string(d.image_size) + " not in [1, 1024]");
  if (d.channels != 3)
    throw FormatError("'" + meta_path.string() + "' channels " + std::to_string(d.channels) + ", expected 3");
  d.label_names = field<std::vector<std::string>>(meta, "label_names", meta_path);
  if (d.label_names.size() != 2) throw FormatError("'" + meta_path.string() + "' label_names must have 2 entries");
  if (meta.contains("preprocess") && meta["preprocess"].is_object() && meta["preprocess"].contains("window"))
    d.window = field<double>(meta["preprocess"], "window", meta_path);
  const auto split = field<nlohmann::json>(meta, "split", meta_path);
  d.split_kind = field<std::string>(split, "kind", meta_path);
  if (d.split_kind != "patient" && d.split_kind != "random")
    throw FormatError("'" + meta_path.string() + "' split kind '" + d.split_kind + "' is not patient or random");
  if (d.split_kind == "patient") {
    d.groups = field<std::vector<std::string>>(split, "groups", meta_path);
    d.test_group = field<std::string>(split, "test_group", meta_path);
  }
  const auto counts = field<nlohmann::json>(meta, "counts", meta_path);
  const auto total = field<std::size_t>(counts, "total", meta_path);

  d.records = read_manifest(dir / "manifest.tsv");
  if (d.records.size() != total)
    throw FormatError("'" + (dir / "manifest.tsv").string() + "' has " + std::to_string(d.records.size()) +
                      " rows but dataset.json counts " + std::to_string(total));
  auto samples = read_cifar_bin(dir / "images.bin", d.image_size, 2);
  if (samples.size() != total)
    throw FormatError("'" + (dir / "images.bin").string() + "' has " + std::to_string(samples.size()) +
                      " records but dataset.json counts " + std::to_string(total));
  const std::set<std::string> groups(d.groups.begin(), d.groups.end());
  for (std::size_t i = 0; i < total; ++i) {
    Record& r = d.records[i];
    if (samples[i].label != r.label)
      throw FormatError("record " + std::to_string(i) + " ('" + r.source + "') has label " +
                        std::to_string(samples[i].label) + " in images.bin but " + std::to_string(r.label) +
                        " in manifest.tsv");
    if (d.split_kind == "patient" && !groups.count(r.group))
      throw FormatError("record " + std::to_string(i) + " ('" + r.source + "') has group '" + r.group +
                        "' not listed in dataset.json");
    r.pixels = std::move(samples[i].pixels);
  }
  if (d.split_kind == "patient") {  // the split must be patient-disjoint and follow the test group
    std::map<std::string, std::string> side;
    for (const auto& r : d.records) {
      if ((r.group == d.test_group) != (r.split == "test"))
        throw FormatError("record '" + r.source + "' of group '" + r.group + "' is on the " + r.split +
                          " side but the test group is '" + d.test_group + "'");
      auto [it, ins] = side.emplace(r.subject, r.split);
      if (!ins && it->second != r.split)
        throw FormatError("subject '" + r.subject + "' appears on both sides of the patient split");
    }
  }
  return d;
}

}  // namespace leukocrypt::data
