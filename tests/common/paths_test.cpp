// File helpers: atomic write + read round trip, clear errors for missing files.
#include "common/paths.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace leukocrypt {

TEST(Paths, AtomicWriteRoundTrip) {
  auto dir = std::filesystem::temp_directory_path() / "lc_paths_test";
  std::filesystem::create_directories(dir);
  auto f = dir / "x.bin";
  std::string bytes("a\0b\xff", 4);
  write_file_atomic(f, bytes);
  EXPECT_EQ(read_file(f), bytes);
  std::filesystem::remove_all(dir);
}

TEST(Paths, MissingFileIsIoError) {
  EXPECT_THROW(read_file("/nonexistent/leukocrypt"), IoError);
}

TEST(Paths, OversizedFileRejected) {
  auto f = std::filesystem::temp_directory_path() / "lc_paths_big.bin";
  write_file_atomic(f, std::string(100, 'x'));
  EXPECT_THROW(read_file(f, 10), IoError);
  std::filesystem::remove(f);
}

}  // namespace leukocrypt
