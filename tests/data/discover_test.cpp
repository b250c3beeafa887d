// Discovery of C-NMC (original and all/hem) and ALL-IDB2 layouts, subject parsing, bad names.
#include "data/discover.h"

#include <set>

#include "common/error.h"
#include "data/dataset.h"
#include "test_util.h"

namespace leukocrypt::data {
namespace {

using namespace test;

TEST(DataDiscover, ParsesSubjectIds) {
  std::string cls;
  EXPECT_EQ(parse_cnmc_subject("UID_H10_100_1_hem", &cls).value(), "H10");
  EXPECT_EQ(cls, "hem");
  EXPECT_EQ(parse_cnmc_subject("UID_16_11_1_all", &cls).value(), "16");
  EXPECT_EQ(cls, "all");
  EXPECT_EQ(parse_cnmc_subject("UID_32_10_10_all").value(), "32");
  EXPECT_FALSE(parse_cnmc_subject("UID_16_11_all"));
  EXPECT_FALSE(parse_cnmc_subject("cell_16_11_1_all"));
  EXPECT_FALSE(parse_cnmc_subject("UID_16_11_1_blast"));
  EXPECT_FALSE(parse_cnmc_subject("UID__11_1_all"));
}

TEST(DataDiscover, Fold225HasAllCellsAndSubjects) {
  auto d = discover_cells(fold225());
  EXPECT_EQ(d.layout, Layout::kCnmc);
  ASSERT_EQ(d.cells.size(), 3581u);
  std::size_t all = 0;
  std::set<std::string> subjects;
  for (const auto& c : d.cells) {
    all += c.label == kLabelAll;
    subjects.insert(c.subject);
    EXPECT_EQ(c.source.substr(0, 4), c.label == kLabelAll ? "all/" : "hem/");
  }
  EXPECT_EQ(all, 2418u);
  EXPECT_EQ(subjects.size(), 14u);
  EXPECT_TRUE(subjects.count("H10"));
  EXPECT_TRUE(std::is_sorted(d.cells.begin(), d.cells.end(),
                             [](const CellFile& a, const CellFile& b) { return a.source < b.source; }));
}

TEST(DataDiscover, OriginalTciaLayout) {
  ScratchDir tmp;
  const fs::path root = tmp / "C-NMC_training_data";
  make_cnmc_folder(root / "fold_0");
  fs::create_directories(root / "fold_1" / "all");
  fs::create_directories(root / "fold_1" / "hem");
  fs::rename(root / "fold_0" / "all" / "UID_2_10_1_all.bmp", root / "fold_1" / "all" / "UID_2_10_1_all.bmp");
  fs::rename(root / "fold_0" / "hem" / "UID_H22_10_1_hem.bmp", root / "fold_1" / "hem" / "UID_H22_10_1_hem.bmp");
  for (const fs::path& input : {tmp.path(), root}) {
    auto d = discover_cells(input);
    ASSERT_EQ(d.cells.size(), 12u) << input;
    EXPECT_EQ(d.class_dirs.size(), 4u);
  }
  auto d = discover_cells(tmp.path());
  EXPECT_EQ(d.cells[0].source, "C-NMC_training_data/fold_0/all/UID_16_11_1_all.bmp");
  EXPECT_EQ(d.cells[0].subject, "16");
  EXPECT_EQ(d.cells.back().source, "C-NMC_training_data/fold_1/hem/UID_H22_10_1_hem.bmp");
  EXPECT_EQ(d.cells.back().label, kLabelHem);
}

TEST(DataDiscover, AllIdb2FlatFolder) {
  auto d = discover_cells(data_root() / "all-idb2");
  EXPECT_EQ(d.layout, Layout::kAllIdb2);
  ASSERT_EQ(d.cells.size(), 260u);
  std::size_t blasts = 0;
  for (const auto& c : d.cells) blasts += c.label == kLabelAll;
  EXPECT_EQ(blasts, 130u);
  EXPECT_EQ(d.cells[0].subject, "Im001_1");  // every image its own subject
  EXPECT_EQ(d.cells[0].label, kLabelAll);  // Im001_1: blast
  EXPECT_GE(d.ignored_non_images, 1u);     // readme_ALL_IDB2.txt
  EXPECT_EQ(discover_cells(data_root() / "all-idb2", Layout::kAllIdb2).cells.size(), 260u);
  EXPECT_THROW(discover_cells(data_root() / "all-idb2", Layout::kCnmc), FormatError);
}

TEST(DataDiscover, EmptyClassFolderIsAnError) {
  ScratchDir tmp;
  make_cnmc_folder(tmp.path());
  for (const auto& e : fs::directory_iterator(tmp / "hem")) fs::remove(e.path());
  auto msg = error_of<FormatError>([&] { discover_cells(tmp.path()); });
  EXPECT_NE(msg.find((tmp / "hem").string()), std::string::npos) << msg;
  auto d = discover_cells(tmp.path(), Layout::kAuto, /*skip_bad=*/true);
  EXPECT_EQ(d.cells.size(), 6u);
  EXPECT_EQ(d.bad.size(), 1u);
}

TEST(DataDiscover, NameWithoutSubjectIsAnError) {
  ScratchDir tmp;
  make_cnmc_folder(tmp.path());
  fs::rename(tmp / "all" / "UID_2_10_1_all.bmp", tmp / "all" / "cell_0001.bmp");
  auto msg = error_of<FormatError>([&] { discover_cells(tmp.path()); });
  EXPECT_NE(msg.find("cell_0001.bmp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("subject"), std::string::npos) << msg;
  auto d = discover_cells(tmp.path(), Layout::kAuto, true);
  EXPECT_EQ(d.cells.size(), 11u);
  ASSERT_EQ(d.bad.size(), 1u);
  EXPECT_EQ(d.bad[0].source, "all/cell_0001.bmp");
}

TEST(DataDiscover, ClassInNameMustMatchFolder) {
  ScratchDir tmp;
  make_cnmc_folder(tmp.path());
  fs::rename(tmp / "all" / "UID_2_10_1_all.bmp", tmp / "hem" / "UID_2_10_1_all.bmp");
  EXPECT_THROW(discover_cells(tmp.path()), FormatError);
}

TEST(DataDiscover, MissingInputOrNoCells) {
  ScratchDir tmp;
  EXPECT_THROW(discover_cells(tmp / "nope"), IoError);
  EXPECT_THROW(discover_cells(tmp.path()), FormatError);
  EXPECT_THROW(parse_layout("tcia"), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::data
