// prepare_dataset end to end on real cells: outputs, load_dataset, splits, bad input, atomicity.
#include "data/prepare.h"

#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "data/formats.h"
#include "test_util.h"

namespace leukocrypt::data {
namespace {

using namespace test;

PrepareOptions small_options(const ScratchDir& tmp) {
  make_cnmc_folder(tmp / "in");
  PrepareOptions o;
  o.input = tmp / "in";
  o.out = tmp / "out" / "ds";
  o.progress = false;
  o.split.groups = 3;
  return o;
}

// Nothing but `keep` under the output's parent: no temporary folders left behind.
void expect_no_leftovers(const fs::path& parent, const std::set<std::string>& keep) {
  if (!fs::exists(parent)) return;
  for (const auto& e : fs::directory_iterator(parent))
    EXPECT_TRUE(keep.count(e.path().filename().string())) << "left over: " << e.path();
}

TEST(DataPrepare, FullFoldWithSplitsTsv) {
  ScratchDir tmp;
  PrepareOptions o;
  o.input = fold225();
  o.out = tmp / "cnmc32";
  o.progress = false;
  o.split.splits_file = fold225() / "SPLITS.tsv";
  auto s = prepare_dataset(o);
  EXPECT_EQ(s.total, 3581u);
  EXPECT_EQ(s.per_label[0], 2418u);
  EXPECT_EQ(s.per_label[1], 1163u);
  EXPECT_EQ(s.per_subject.size(), 14u);
  EXPECT_EQ(s.train + s.test, 3581u);

  Dataset d = load_dataset(o.out);
  ASSERT_EQ(d.records.size(), 3581u);
  EXPECT_EQ(d.image_size, 32);
  EXPECT_EQ(d.split_kind, "patient");
  EXPECT_EQ(d.groups, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(d.test_group, "C");
  EXPECT_NEAR(d.window, 320.0 / 450.0, 1e-12);
  const auto table = read_splits_tsv(fold225() / "SPLITS.tsv");
  std::set<std::string> train_subjects, test_subjects;
  for (const auto& r : d.records) {
    EXPECT_EQ(r.group, table.at(r.subject));
    (r.split == "test" ? test_subjects : train_subjects).insert(r.subject);
  }
  for (const auto& s2 : test_subjects) EXPECT_FALSE(train_subjects.count(s2)) << s2;
  EXPECT_EQ(d.select("test").size(), s.test);
  EXPECT_EQ(d.select("B").size(), 1168u);

  // train.bin / test.tsv hold exactly the selected records, in manifest order.
  auto train = read_cifar_bin(o.out / "train.bin", 32);
  auto sel = d.select("train");
  ASSERT_EQ(train.size(), sel.size());
  for (std::size_t i = 0; i < train.size(); i += 97) EXPECT_EQ(train[i].pixels, sel[i]->pixels);
  auto test_tsv = read_tsv(o.out / "test.tsv", 32);
  auto tsel = d.select("test");
  ASSERT_EQ(test_tsv.size(), tsel.size());
  for (std::size_t i = 0; i < tsel.size(); i += 101) {
    EXPECT_EQ(test_tsv[i].pixels, tsel[i]->pixels);
    EXPECT_EQ(test_tsv[i].label, tsel[i]->label);
  }

  auto meta = nlohmann::json::parse(slurp(o.out / "dataset.json"));
  EXPECT_EQ(meta["label_names"], (std::vector<std::string>{"all", "hem"}));
  EXPECT_EQ(meta["split"]["leaks_patients"], false);
  EXPECT_EQ(meta["source"]["segmented"], true);
  expect_no_leftovers(tmp.path(), {"cnmc32"});
}

TEST(DataPrepare, SmallFolderAutomaticGroupsAndDeterminism) {
  ScratchDir tmp;
  auto o = small_options(tmp);
  auto s = prepare_dataset(o);
  EXPECT_EQ(s.total, 12u);
  EXPECT_EQ(s.per_subject.size(), 9u);
  const std::string first = slurp(o.out / "images.bin");
  o.force = true;
  prepare_dataset(o);
  EXPECT_EQ(slurp(o.out / "images.bin"), first);
  EXPECT_EQ(first.size(), 12u * 3073);
  auto d = load_dataset(o.out);
  EXPECT_EQ(d.groups.size(), 3u);
  // A trailing slash names the same folder; the text summary lists subjects in natural order.
  o.out = tmp / "out" / "ds2/";
  auto s2 = prepare_dataset(o);
  EXPECT_TRUE(fs::exists(tmp / "out" / "ds2" / "dataset.json"));
  expect_no_leftovers(tmp / "out", {"ds", "ds2"});
  const std::string text = s2.to_text();
  EXPECT_LT(text.find("\n2\t"), text.find("\n16\t"));
  EXPECT_LT(text.find("\n33\t"), text.find("\nH10\t"));
}

TEST(DataPrepare, RandomSplitSaysItLeaksPatients) {
  ScratchDir tmp;
  auto o = small_options(tmp);
  o.split.kind = "random";
  o.split.test_fraction = 0.5;
  o.split.seed = 3;
  auto s = prepare_dataset(o);
  EXPECT_EQ(s.test, 6u);  // 3 of 6 ALL + 3 of 6 hem
  auto meta = nlohmann::json::parse(slurp(o.out / "dataset.json"));
  EXPECT_EQ(meta["split"]["kind"], "random");
  EXPECT_EQ(meta["split"]["leaks_patients"], true);
  EXPECT_EQ(meta["split"]["seed"], 3);
  auto d = load_dataset(o.out);
  EXPECT_TRUE(d.groups.empty());
  EXPECT_EQ(d.select("test").size(), 6u);
}

TEST(DataPrepare, AllIdb2Layout) {
  ScratchDir tmp;
  PrepareOptions o;
  o.input = data_root() / "all-idb2";
  o.out = tmp / "idb2";
  o.layout = Layout::kAllIdb2;
  o.progress = false;
  auto s = prepare_dataset(o);
  EXPECT_EQ(s.total, 260u);
  EXPECT_EQ(s.per_label[0], 130u);
  auto meta = nlohmann::json::parse(slurp(o.out / "dataset.json"));
  EXPECT_EQ(meta["source"]["segmented"], false);
  EXPECT_EQ(meta["source"]["layout"], "all-idb2");
  EXPECT_EQ(load_dataset(o.out).records.size(), 260u);
}

TEST(DataPrepare, CorruptFileFailsWithoutPartialOutputAndSkipBadContinues) {
  ScratchDir tmp;
  auto o = small_options(tmp);
  const fs::path bad = o.input / "hem" / "UID_H14_10_2_hem.bmp";
  truncate_file(bad, 3000);
  auto msg = error_of<FormatError>([&] { prepare_dataset(o); });
  EXPECT_NE(msg.find("UID_H14_10_2_hem.bmp"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(o.out));
  expect_no_leftovers(o.out.parent_path(), {});

  o.skip_bad = true;
  auto s = prepare_dataset(o);
  EXPECT_EQ(s.total, 11u);
  ASSERT_EQ(s.skipped.size(), 1u);
  EXPECT_EQ(s.skipped[0].source, "hem/UID_H14_10_2_hem.bmp");
  EXPECT_EQ(s.to_json()["skipped"], 1);
  EXPECT_EQ(load_dataset(o.out).records.size(), 11u);
  expect_no_leftovers(o.out.parent_path(), {"ds"});
}

TEST(DataPrepare, ExistingOutputNeedsForceAndSurvivesFailure) {
  ScratchDir tmp;
  auto o = small_options(tmp);
  fs::create_directories(o.out);
  std::ofstream(o.out / "keep.txt") << "mine";
  EXPECT_THROW(prepare_dataset(o), IoError);
  EXPECT_TRUE(fs::exists(o.out / "keep.txt"));
  // A failing run with --force leaves the old output untouched.
  o.force = true;
  std::ofstream(o.input / "all" / "UID_16_99_1_all.png") << "not a png";
  EXPECT_THROW(prepare_dataset(o), FormatError);
  EXPECT_TRUE(fs::exists(o.out / "keep.txt"));
  fs::remove(o.input / "all" / "UID_16_99_1_all.png");
  prepare_dataset(o);
  EXPECT_FALSE(fs::exists(o.out / "keep.txt"));
  EXPECT_TRUE(fs::exists(o.out / "dataset.json"));
  expect_no_leftovers(o.out.parent_path(), {"ds"});
}

TEST(DataPrepare, LoadDatasetRejectsDamagedDirectories) {
  ScratchDir tmp;
  auto o = small_options(tmp);
  prepare_dataset(o);
  const std::string bin = slurp(o.out / "images.bin");
  write_bytes(o.out / "images.bin", bin.substr(0, bin.size() - 3073));
  EXPECT_THROW(load_dataset(o.out), FormatError);
  std::string flipped = bin;
  flipped[0] = static_cast<char>(1 - flipped[0]);  // label disagrees with the manifest
  write_bytes(o.out / "images.bin", flipped);
  EXPECT_THROW(load_dataset(o.out), FormatError);
  write_bytes(o.out / "images.bin", bin);
  EXPECT_NO_THROW(load_dataset(o.out));
  write_bytes(o.out / "dataset.json", "{\"format_version\": 2}");
  EXPECT_THROW(load_dataset(o.out), FormatError);
  write_bytes(o.out / "dataset.json", "not json");
  EXPECT_THROW(load_dataset(o.out), FormatError);
  fs::remove(o.out / "dataset.json");
  EXPECT_THROW(load_dataset(o.out), IoError);
}

}  // namespace
}  // namespace leukocrypt::data
