// Input discovery: walks the input folder, recognises the layout, parses subject ids and labels.
#include "data/discover.h"

#include <algorithm>
#include <regex>

#include "common/error.h"
#include "data/dataset.h"
#include "data/image.h"

namespace leukocrypt::data {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 4;  // input / C-NMC_training_data / fold_0 / {all,hem}

bool hidden(const fs::path& p) {
  auto n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::string rel(const fs::path& p, const fs::path& base) {
  return p.lexically_relative(base).generic_string();
}

// Sorted entries of a folder; unreadable folders throw IoError naming them.
std::vector<fs::path> list_dir(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) throw IoError("cannot read folder '" + dir.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw IoError("cannot read folder '" + dir.string() + "': " + ec.message());
    out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Folders holding all/ and/or hem/ class subfolders, depth-first, sorted.
void find_class_parents(const fs::path& dir, int depth, std::vector<fs::path>& out) {
  if (is_dir(dir / "all") || is_dir(dir / "hem")) {
    out.push_back(dir);
    return;
  }
  if (depth >= kMaxDepth) return;
  for (const auto& p : list_dir(dir))
    if (!hidden(p) && is_dir(p)) find_class_parents(p, depth + 1, out);
}

class Collector {
 public:
  Collector(Discovery& d, bool skip_bad) : d_(d), skip_bad_(skip_bad) {}
  // Throws E(message) or records the problem, depending on skip_bad.
  template <class E>
  void bad(const std::string& source, const std::string& message) {
    if (!skip_bad_) throw E(message);
    d_.bad.push_back({source, message});
  }

 private:
  Discovery& d_;
  bool skip_bad_;
};

void read_class_folder(const fs::path& input, const fs::path& dir, int label, Discovery& d, Collector& c) {
  const std::string cls = label == kLabelAll ? "all" : "hem";
  const std::string dir_rel = rel(dir, input);
  if (!is_dir(dir)) {
    c.bad<FormatError>(dir_rel, "class folder '" + dir.string() + "' is missing (expected both all/ and hem/)");
    return;
  }
  d.class_dirs.push_back(dir_rel);
  std::size_t found = 0;
  for (const auto& p : list_dir(dir)) {
    if (hidden(p) || is_dir(p)) continue;
    if (!is_image_file(p)) {
      ++d.ignored_non_images;
      continue;
    }
    ++found;
    std::string name_cls;
    auto subject = parse_cnmc_subject(p.stem().string(), &name_cls);
    if (!subject) {
      c.bad<FormatError>(rel(p, input), "file '" + p.string() +
                                            "' has no subject id (expected UID_<subject>_<image>_<cell>_<all|hem>)");
      continue;
    }
    if (name_cls != cls) {
      c.bad<FormatError>(rel(p, input), "file '" + p.string() + "' is named '" + name_cls +
                                            "' but lies in the class folder '" + cls + "/'");
      continue;
    }
    d.cells.push_back({p, rel(p, input), *subject, label});
  }
  if (found == 0) c.bad<FormatError>(dir_rel, "class folder '" + dir.string() + "' has no images");
}

void discover_cnmc(const fs::path& input, const std::vector<fs::path>& parents, Discovery& d, Collector& c) {
  for (const auto& parent : parents) {
    read_class_folder(input, parent / "all", kLabelAll, d, c);
    read_class_folder(input, parent / "hem", kLabelHem, d, c);
  }
}

const std::regex& idb2_name() {
  static const std::regex re(R"(^Im(\d+)_([01])$)");
  return re;
}

bool looks_like_all_idb2(const fs::path& input) {
  for (const auto& p : list_dir(input))
    if (is_image_file(p) && std::regex_match(p.stem().string(), idb2_name())) return true;
  return false;
}

// ALL-IDB2: ImXXX_1 = blast (label 0, ALL), ImXXX_0 = normal (label 1). No subject ids exist, so
// every image is its own subject.
void discover_all_idb2(const fs::path& input, Discovery& d, Collector& c) {
  for (const auto& p : list_dir(input)) {
    if (hidden(p) || is_dir(p)) continue;
    if (!is_image_file(p)) {
      ++d.ignored_non_images;
      continue;
    }
    std::smatch m;
    const std::string stem = p.stem().string();
    if (!std::regex_match(stem, m, idb2_name())) {
      c.bad<FormatError>(rel(p, input), "file '" + p.string() + "' is not named ImXXX_Y (Y = 1 blast, 0 normal)");
      continue;
    }
    d.cells.push_back({p, rel(p, input), stem, m[2] == "1" ? kLabelAll : kLabelHem});  // subject: the whole stem
  }
}

}  // namespace

Layout parse_layout(const std::string& name) {
  if (name == "auto") return Layout::kAuto;
  if (name == "cnmc") return Layout::kCnmc;
  if (name == "all-idb2") return Layout::kAllIdb2;
  throw InvalidArgument("--layout must be auto, cnmc or all-idb2, got '" + name + "'");
}

std::string layout_name(Layout layout) {
  switch (layout) {
    case Layout::kAuto: return "auto";
    case Layout::kCnmc: return "cnmc";
    case Layout::kAllIdb2: return "all-idb2";
  }
  return "?";
}

std::optional<std::string> parse_cnmc_subject(const std::string& stem, std::string* cls) {
  static const std::regex re(R"(^UID_([A-Za-z]*[0-9]+)_([0-9]+)_([0-9]+)_(all|hem)$)");
  std::smatch m;
  if (!std::regex_match(stem, m, re)) return std::nullopt;
  if (cls) *cls = m[4];
  return m[1].str();
}

Discovery discover_cells(const fs::path& input, Layout layout, bool skip_bad) {
  if (!is_dir(input)) throw IoError("input folder '" + input.string() + "' does not exist or is not a folder");
  Discovery d;
  Collector c(d, skip_bad);
  std::vector<fs::path> parents;
  if (layout != Layout::kAllIdb2) find_class_parents(input, 0, parents);
  if (layout == Layout::kAuto) {
    if (!parents.empty()) layout = Layout::kCnmc;
    else if (looks_like_all_idb2(input)) layout = Layout::kAllIdb2;
    else
      throw FormatError("input folder '" + input.string() +
                        "' has no all/ and hem/ class folders (C-NMC layout) and no ImXXX_Y images (ALL-IDB2)");
  }
  d.layout = layout;
  if (layout == Layout::kCnmc) {
    if (parents.empty())
      throw FormatError("input folder '" + input.string() + "' has no all/ and hem/ class folders (C-NMC layout)");
    discover_cnmc(input, parents, d, c);
  } else {
    discover_all_idb2(input, d, c);
  }
  if (d.cells.empty()) throw FormatError("input folder '" + input.string() + "' holds no usable cell images");
  std::sort(d.cells.begin(), d.cells.end(), [](const CellFile& a, const CellFile& b) { return a.source < b.source; });
  return d;
}

}  // namespace leukocrypt::data
