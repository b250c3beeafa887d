// Patient-grouped and random splits.
#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"

namespace leukocrypt::data {

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Uniform integer in [0, n) from raw mt19937_64 output by rejection: the same sequence on every
// standard library (std::uniform_int_distribution is implementation-defined).
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  for (;;) {
    std::uint64_t r = rng();
    if (r < limit) return r % n;
  }
}

std::string group_name(int i) {
  return std::string(1, static_cast<char>('A' + i));
}

}  // namespace

void SplitOptions::validate() const {
  require(kind == "patient" || kind == "random", "--split must be 'patient' or 'random', got '" + kind + "'");
  require(groups >= 2 && groups <= 26, "--groups must be in [2, 26], got " + std::to_string(groups));
  require(std::isfinite(test_fraction) && test_fraction > 0.0 && test_fraction < 1.0,
          "--test-fraction must be in (0, 1), got " + std::to_string(test_fraction));
  require(kind == "patient" || splits_file.empty(), "--splits applies only to --split patient");
}

std::map<std::string, std::string> read_splits_tsv(const std::filesystem::path& path) {
  std::istringstream in(read_file(path, std::size_t(16) << 20));
  std::map<std::string, std::string> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    auto tab = t.find('\t');
    const std::string where = "'" + path.string() + "' line " + std::to_string(lineno);
    if (tab == std::string::npos || t.find('\t', tab + 1) != std::string::npos)
      throw FormatError(where + ": expected 'subject<TAB>group'");
    std::string subject = trim(t.substr(0, tab)), group = trim(t.substr(tab + 1));
    if (lower(subject) == "subject" && lower(group) == "group" && out.empty()) continue;  // header
    if (subject.empty() || group.empty()) throw FormatError(where + ": empty subject or group");
    auto [it, inserted] = out.emplace(subject, group);
    if (!inserted && it->second != group)
      throw FormatError(where + ": subject '" + subject + "' is in groups '" + it->second + "' and '" + group + "'");
  }
  if (out.empty()) throw FormatError("'" + path.string() + "' lists no subjects");
  return out;
}

std::map<std::string, std::string> auto_groups(const std::map<std::string, std::array<std::size_t, 2>>& counts,
                                               int groups) {
  require(groups >= 1 && groups <= 26, "--groups must be in [1, 26], got " + std::to_string(groups));
  require(counts.size() >= static_cast<std::size_t>(groups),
          "cannot form " + std::to_string(groups) + " patient groups from " + std::to_string(counts.size()) +
              " subjects (lower --groups)");
  struct Subject {
    std::string id;
    int major;
    std::size_t total;
  };
  std::vector<Subject> subjects;
  for (const auto& [id, c] : counts) subjects.push_back({id, c[1] > c[0] ? 1 : 0, c[0] + c[1]});
  // Minority-class subjects (the few healthy donors) first so each group gets some, then largest first.
  std::size_t major_count[2] = {0, 0};
  for (const auto& s : subjects) ++major_count[s.major];
  std::stable_sort(subjects.begin(), subjects.end(), [&](const Subject& a, const Subject& b) {
    if (a.major != b.major) return major_count[a.major] < major_count[b.major];
    if (a.total != b.total) return a.total > b.total;
    return a.id < b.id;
  });
  std::vector<std::array<std::size_t, 2>> load(groups, {0, 0});
  std::map<std::string, std::string> out;
  for (const auto& s : subjects) {
    int best = 0;
    for (int g = 1; g < groups; ++g) {
      auto key = [&](int k) { return std::make_pair(load[k][s.major], load[k][0] + load[k][1]); };
      if (key(g) < key(best)) best = g;
    }
    const auto& c = counts.at(s.id);
    load[best][0] += c[0];
    load[best][1] += c[1];
    out[s.id] = group_name(best);
  }
  return out;
}

SplitInfo assign_split(std::vector<Record>& records, const SplitOptions& options) {
  options.validate();
  require(!records.empty(), "cannot split an empty dataset");
  SplitInfo info;
  info.kind = options.kind;
  if (options.kind == "random") {
    info.test_fraction = options.test_fraction;
    info.seed = options.seed;
    std::mt19937_64 rng(options.seed);
    for (int label = 0; label <= 1; ++label) {  // stratified: the same fraction of each class
      std::vector<std::size_t> idx;
      for (std::size_t i = 0; i < records.size(); ++i)
        if (records[i].label == label) idx.push_back(i);
      for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[uniform_below(rng, i)]);
      const auto n_test = static_cast<std::size_t>(std::llround(options.test_fraction * idx.size()));
      for (std::size_t k = 0; k < idx.size(); ++k) {
        records[idx[k]].group.clear();
        records[idx[k]].split = k < n_test ? "test" : "train";
      }
    }
    return info;
  }
  std::map<std::string, std::array<std::size_t, 2>> counts;
  for (const auto& r : records) ++counts[r.subject][r.label == kLabelHem ? 1 : 0];
  if (!options.splits_file.empty()) {
    info.group_source = options.splits_file.string();
    auto table = read_splits_tsv(options.splits_file);
    for (const auto& [subject, c] : counts) {
      auto it = table.find(subject);
      if (it == table.end())
        throw FormatError("subject '" + subject + "' is not listed in '" + options.splits_file.string() + "'");
      info.subject_group[subject] = it->second;
    }
  } else {
    info.group_source = "automatic";
    info.subject_group = auto_groups(counts, options.groups);
  }
  std::set<std::string> groups;
  for (const auto& [s, g] : info.subject_group) groups.insert(g);
  info.groups.assign(groups.begin(), groups.end());
  require(info.groups.size() >= 2, "a patient split needs at least 2 groups, the data has " +
                                       std::to_string(info.groups.size()));
  info.test_group = options.test_group.empty() ? info.groups.back() : options.test_group;
  require(groups.count(info.test_group) == 1, "--test-group '" + info.test_group + "' is not one of the groups");
  for (auto& r : records) {
    r.group = info.subject_group.at(r.subject);
    r.split = r.group == info.test_group ? "test" : "train";
  }
  return info;
}

}  // namespace leukocrypt::data
