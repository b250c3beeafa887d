// Patient-grouped (SPLITS.tsv and automatic) and random splits on the real fold's subjects.
#include "data/split.h"

#include <map>
#include <set>

#include "common/error.h"
#include "data/discover.h"
#include "test_util.h"

namespace leukocrypt::data {
namespace {

using namespace test;

// The fold's records without pixels: splitting needs only subject and label.
std::vector<Record> fold_records() {
  std::vector<Record> out;
  for (const auto& c : discover_cells(fold225()).cells) {
    Record r;
    r.source = c.source;
    r.subject = c.subject;
    r.label = c.label;
    out.push_back(r);
  }
  return out;
}

void expect_patient_disjoint(const std::vector<Record>& records) {
  std::map<std::string, std::string> side, group;
  for (const auto& r : records) {
    auto [it, ins] = side.emplace(r.subject, r.split);
    EXPECT_EQ(it->second, r.split) << "subject " << r.subject << " on both sides";
    auto [g, ins2] = group.emplace(r.subject, r.group);
    EXPECT_EQ(g->second, r.group) << "subject " << r.subject << " in two groups";
  }
}

TEST(DataSplit, PatientSplitFollowsSplitsTsv) {
  auto records = fold_records();
  SplitOptions o;
  o.splits_file = fold225() / "SPLITS.tsv";
  auto info = assign_split(records, o);
  const auto table = read_splits_tsv(fold225() / "SPLITS.tsv");
  EXPECT_EQ(table.size(), 14u);
  EXPECT_EQ(info.groups, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(info.test_group, "C");
  for (const auto& r : records) {
    EXPECT_EQ(r.group, table.at(r.subject)) << r.source;
    EXPECT_EQ(r.split, r.group == "C" ? "test" : "train") << r.source;
  }
  expect_patient_disjoint(records);

  o.test_group = "A";
  assign_split(records, o);
  for (const auto& r : records) EXPECT_EQ(r.split, r.group == "A" ? "test" : "train");
  o.test_group = "Z";
  EXPECT_THROW(assign_split(records, o), InvalidArgument);
}

TEST(DataSplit, SubjectMissingFromSplitsTsvIsAnError) {
  ScratchDir tmp;
  std::ofstream(tmp / "SPLITS.tsv") << "subject\tgroup\nH10\tA\n16\tB\n";
  auto records = fold_records();
  SplitOptions o;
  o.splits_file = tmp / "SPLITS.tsv";
  EXPECT_THROW(assign_split(records, o), FormatError);
  std::ofstream(tmp / "bad.tsv") << "H10\tA\nH10\tB\n";
  EXPECT_THROW(read_splits_tsv(tmp / "bad.tsv"), FormatError);
  std::ofstream(tmp / "bad2.tsv") << "H10 A\n";
  EXPECT_THROW(read_splits_tsv(tmp / "bad2.tsv"), FormatError);
}

TEST(DataSplit, AutomaticGroupsAreBalancedAndDisjoint) {
  auto records = fold_records();
  SplitOptions o;
  auto info = assign_split(records, o);
  EXPECT_EQ(info.group_source, "automatic");
  ASSERT_EQ(info.groups, (std::vector<std::string>{"A", "B", "C"}));
  expect_patient_disjoint(records);
  std::map<std::string, std::array<std::size_t, 2>> per_group;
  std::map<std::string, std::set<std::string>> healthy;
  for (const auto& r : records) {
    ++per_group[r.group][r.label];
    if (r.label == kLabelHem) healthy[r.group].insert(r.subject);
  }
  for (const auto& g : info.groups) {
    EXPECT_EQ(healthy[g].size(), 1u) << g;  // the 3 healthy donors spread one per group
    EXPECT_GT(per_group[g][0], 600u) << g;  // 2418 ALL cells, ~806 per group
    EXPECT_LT(per_group[g][0], 1000u) << g;
  }
  auto again = fold_records();
  assign_split(again, o);
  for (std::size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].group, again[i].group);

  o.groups = 20;  // more groups than the 14 subjects
  EXPECT_THROW(assign_split(records, o), InvalidArgument);
}

TEST(DataSplit, RandomSplitFractionsAndSeed) {
  auto a = fold_records(), b = fold_records(), c = fold_records();
  SplitOptions o;
  o.kind = "random";
  o.test_fraction = 0.2;
  o.seed = 7;
  assign_split(a, o);
  assign_split(b, o);
  o.seed = 8;
  assign_split(c, o);
  std::array<std::size_t, 2> test{0, 0};
  std::size_t same_ab = 0, same_ac = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    test[a[i].label] += a[i].split == "test";
    same_ab += a[i].split == b[i].split;
    same_ac += a[i].split == c[i].split;
    EXPECT_TRUE(a[i].group.empty());
  }
  EXPECT_EQ(test[0], 484u);  // round(0.2 * 2418)
  EXPECT_EQ(test[1], 233u);  // round(0.2 * 1163)
  EXPECT_EQ(same_ab, a.size());
  EXPECT_LT(same_ac, a.size());
  o.test_fraction = 1.0;
  EXPECT_THROW(assign_split(a, o), InvalidArgument);
}

TEST(DataSplit, OptionValidation) {
  SplitOptions o;
  o.kind = "kfold";
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.kind = "random";
  o.splits_file = "SPLITS.tsv";
  EXPECT_THROW(o.validate(), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::data
