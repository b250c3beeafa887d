// MNIST idx (gzip) reader on the real files.
#include "data/mnist.h"

#include "common/error.h"
#include "test_util.h"

namespace leukocrypt::data {
namespace {

using namespace test;

fs::path mnist(const char* name) { return data_root() / "mnist" / name; }

TEST(DataMnist, LoadsTestSet) {
  auto set = load_mnist(mnist("t10k-images-idx3-ubyte.gz"), mnist("t10k-labels-idx1-ubyte.gz"));
  EXPECT_EQ(set.rows, 28);
  EXPECT_EQ(set.cols, 28);
  ASSERT_EQ(set.size(), 10000u);
  EXPECT_EQ(set.images.size(), 10000u * 28 * 28);
  const std::vector<std::uint8_t> first{7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
  EXPECT_EQ(std::vector<std::uint8_t>(set.labels.begin(), set.labels.begin() + 10), first);
  std::size_t ink = 0;  // the first digit (a 7) has some ink and a blank border
  for (int i = 0; i < 28 * 28; ++i) ink += set.images[i] > 128;
  EXPECT_GT(ink, 50u);
  EXPECT_EQ(set.images[0], 0);
}

TEST(DataMnist, LoadsTrainingSet) {
  auto set = load_mnist(mnist("train-images-idx3-ubyte.gz"), mnist("train-labels-idx1-ubyte.gz"));
  ASSERT_EQ(set.size(), 60000u);
  EXPECT_EQ(set.labels[0], 5);
}

TEST(DataMnist, RejectsBadFiles) {
  ScratchDir tmp;
  // Arguments swapped: wrong magic.
  EXPECT_THROW(load_mnist(mnist("t10k-labels-idx1-ubyte.gz"), mnist("t10k-images-idx3-ubyte.gz")), FormatError);
  // Images and labels of different sets: counts differ.
  EXPECT_THROW(load_mnist(mnist("t10k-images-idx3-ubyte.gz"), mnist("train-labels-idx1-ubyte.gz")), FormatError);
  // A truncated gzip stream.
  fs::copy_file(mnist("t10k-labels-idx1-ubyte.gz"), tmp / "cut.gz");
  truncate_file(tmp / "cut.gz", 1000);
  auto msg = error_of<FormatError>([&] { load_mnist(mnist("t10k-images-idx3-ubyte.gz"), tmp / "cut.gz"); });
  EXPECT_NE(msg.find("cut.gz"), std::string::npos) << msg;
  EXPECT_THROW(load_mnist(tmp / "missing.gz", tmp / "cut.gz"), IoError);
}

}  // namespace
}  // namespace leukocrypt::data
