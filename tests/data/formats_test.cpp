// CIFAR-10 .bin, CryptoNets .tsv and manifest round trips and their validation.
#include "data/formats.h"

#include "common/error.h"
#include "data/image.h"
#include "test_util.h"

namespace leukocrypt::data {
namespace {

using namespace test;

// The 12 real originals, preprocessed to S x S.
std::vector<Record> real_records(int size = 32) {
  std::vector<Record> out;
  PreprocessOptions o;
  o.size = size;
  for (const auto& f : original_bmps()) {
    Record r;
    r.pixels = preprocess_image(f, o);
    r.source = f.filename().string();
    r.label = r.source.find("_hem") != std::string::npos ? kLabelHem : kLabelAll;
    r.subject = r.source.substr(4, r.source.find('_', 4) - 4);
    r.group = "A";
    r.split = out.size() % 3 == 0 ? "test" : "train";
    out.push_back(r);
  }
  return out;
}

std::vector<const Record*> ptrs(const std::vector<Record>& v) {
  std::vector<const Record*> out;
  for (const auto& r : v) out.push_back(&r);
  return out;
}

TEST(DataFormats, CifarBinRoundTrip) {
  ScratchDir tmp;
  auto records = real_records();
  write_cifar_bin(tmp / "x.bin", ptrs(records), 32);
  EXPECT_EQ(fs::file_size(tmp / "x.bin"), records.size() * 3073);
  auto back = read_cifar_bin(tmp / "x.bin", 32);
  ASSERT_EQ(back.size(), records.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].label, records[i].label);
    EXPECT_EQ(back[i].pixels, records[i].pixels);
  }
  // Record layout: label byte, then the R plane first.
  const std::string bytes = slurp(tmp / "x.bin");
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), records[0].label);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[1 + 5]), records[0].pixels[5]);
}

TEST(DataFormats, CifarBinValidation) {
  ScratchDir tmp;
  auto records = real_records();
  std::string bytes = encode_cifar(ptrs(records), 32);
  write_bytes(tmp / "short.bin", bytes.substr(0, bytes.size() - 1));
  EXPECT_THROW(read_cifar_bin(tmp / "short.bin", 32), FormatError);
  bytes[3073] = 7;  // label of record 1
  write_bytes(tmp / "label.bin", bytes);
  EXPECT_THROW(read_cifar_bin(tmp / "label.bin", 32), FormatError);
  EXPECT_EQ(read_cifar_bin(tmp / "label.bin", 32, 10).at(1).label, 7);
  EXPECT_THROW(read_cifar_bin(tmp / "missing.bin", 32), IoError);
  EXPECT_THROW(read_cifar_bin(tmp / "label.bin", 0), InvalidArgument);
}

TEST(DataFormats, TsvRoundTrip) {
  ScratchDir tmp;
  auto records = real_records(16);
  write_tsv(tmp / "x.tsv", ptrs(records), 16);
  auto back = read_tsv(tmp / "x.tsv", 16);
  ASSERT_EQ(back.size(), records.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].label, records[i].label);
    EXPECT_EQ(back[i].pixels, records[i].pixels);
  }
  // One line per image: label then 3*S*S channel-major values.
  const std::string text = slurp(tmp / "x.tsv");
  const std::string first = text.substr(0, text.find('\n'));
  EXPECT_EQ(std::count(first.begin(), first.end(), '\t'), 3 * 16 * 16);
  EXPECT_EQ(first.substr(0, 2), std::to_string(records[0].label) + "\t");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(records.size()));
}

TEST(DataFormats, TsvValidationNamesTheLine) {
  ScratchDir tmp;
  auto records = real_records(4);
  std::string text = encode_tsv(ptrs(records), 4);
  write_bytes(tmp / "ok.tsv", text);
  EXPECT_EQ(read_tsv(tmp / "ok.tsv", 4).size(), 12u);
  EXPECT_THROW(read_tsv(tmp / "ok.tsv", 5), FormatError);  // field count
  std::string bad = text;
  bad.replace(bad.find('\n') + 1, 1, "9");  // label 9 on line 2
  write_bytes(tmp / "bad.tsv", bad);
  auto msg = error_of<FormatError>([&] { read_tsv(tmp / "bad.tsv", 4); });
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  bad = text;
  bad.replace(bad.find('\t') + 1, 0, "1000");
  write_bytes(tmp / "big.tsv", bad);
  EXPECT_THROW(read_tsv(tmp / "big.tsv", 4), FormatError);
}

TEST(DataFormats, ManifestRoundTrip) {
  ScratchDir tmp;
  auto records = real_records(4);
  write_manifest(tmp / "manifest.tsv", records);
  auto back = read_manifest(tmp / "manifest.tsv");
  ASSERT_EQ(back.size(), records.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].source, records[i].source);
    EXPECT_EQ(back[i].subject, records[i].subject);
    EXPECT_EQ(back[i].label, records[i].label);
    EXPECT_EQ(back[i].group, records[i].group);
    EXPECT_EQ(back[i].split, records[i].split);
  }
  write_bytes(tmp / "bad.tsv", "index\tsource\tsubject\tlabel\tgroup\tsplit\n0\ta.png\t1\t0\tA\tvalidation\n");
  EXPECT_THROW(read_manifest(tmp / "bad.tsv"), FormatError);
  write_bytes(tmp / "bad2.tsv", "index\tsource\tsubject\tlabel\tgroup\tsplit\n1\ta.png\t1\t0\tA\ttrain\n");
  EXPECT_THROW(read_manifest(tmp / "bad2.tsv"), FormatError);
}

}  // namespace
}  // namespace leukocrypt::data
