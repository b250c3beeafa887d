// The `.lcx` envelope: round trip, and every truncation / corruption gives a FormatError.
#include <gtest/gtest.h>

#include "common/error.h"
#include "service/wire/container.h"

namespace leukocrypt::wire {
namespace {

Container sample() {
  Container c;
  c.kind = Kind::kRequest;
  c.params_id = 0x1234567890abcdefull;
  c.key_id = "k1";
  c.model_id = "cnmc-x2";
  c.cells = 2;
  c.names = {"a.png", "b.png"};
  c.meta = R"({"x":1})";
  c.blobs = {"hello", std::string(1000, '\x7f'), ""};
  return c;
}

TEST(Container, RoundTrip) {
  auto bytes = serialize(sample());
  auto v = parse(bytes, "t");
  EXPECT_EQ(v.kind, Kind::kRequest);
  EXPECT_EQ(v.params_id, 0x1234567890abcdefull);
  EXPECT_EQ(v.key_id, "k1");
  EXPECT_EQ(v.model_id, "cnmc-x2");
  EXPECT_EQ(v.cells, 2u);
  EXPECT_EQ(v.names, (std::vector<std::string>{"a.png", "b.png"}));
  EXPECT_EQ(v.meta, R"({"x":1})");
  ASSERT_EQ(v.blobs.size(), 3u);
  EXPECT_EQ(v.blobs[0], "hello");
  EXPECT_EQ(v.blobs[1].size(), 1000u);
  EXPECT_EQ(payload_bytes(v), 1005u);
}

TEST(Container, EveryTruncationIsAFormatError) {
  auto bytes = serialize(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(parse(std::string_view(bytes).substr(0, n), "t"), FormatError) << "length " << n;
}

TEST(Container, TruncationMessageSaysTruncated) {
  auto bytes = serialize(sample());
  try {
    parse(std::string_view(bytes).substr(0, bytes.size() - 600), "request.lcx");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("request.lcx: truncated"), std::string::npos) << e.what();
  }
}

// Version 2 records the packing; version 1 (no packing byte) is still read as throughput; an
// unknown packing byte is refused with its value.
TEST(Container, PackingRoundTripsAndVersionOneStillReads) {
  auto c = sample();
  c.packing = Packing::kLatency;
  auto bytes = serialize(c);
  EXPECT_EQ(parse(bytes, "t").packing, Packing::kLatency);
  EXPECT_EQ(parse(serialize(sample()), "t").packing, Packing::kThroughput);
  const std::size_t at = 4 + 2 + 2 + 8 + 4 + c.key_id.size() + 4 + c.model_id.size() + 4;
  ASSERT_EQ(bytes[at], 1);
  auto bad = bytes;
  bad[at] = 7;
  try {
    parse(bad, "t");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown packing 7"), std::string::npos) << e.what();
  }
  // The same container as version 1: without the packing byte.
  auto v1 = bytes.substr(0, at) + bytes.substr(at + 1);
  v1[4] = 1;
  v1[5] = 0;
  auto view = parse(v1, "t");
  EXPECT_EQ(view.packing, Packing::kThroughput);
  EXPECT_EQ(view.blobs.size(), c.blobs.size());
}

TEST(Container, GarbageAndTrailingBytesRejected) {
  EXPECT_THROW(parse("GET / HTTP/1.1\r\n\r\n", "t"), FormatError);
  auto bytes = serialize(sample());
  EXPECT_THROW(parse(bytes + "x", "t"), FormatError);
  auto bad_version = bytes;
  bad_version[4] = 9;
  EXPECT_THROW(parse(bad_version, "t"), FormatError);
  auto bad_kind = bytes;
  bad_kind[6] = 77;
  EXPECT_THROW(parse(bad_kind, "t"), FormatError);
  // Every single-byte corruption is either detected or yields a well-formed (different) view,
  // never a crash.
  for (std::size_t i = 0; i < bytes.size(); i += 7) {
    auto c = bytes;
    c[i] = static_cast<char>(c[i] ^ 0xff);
    try {
      parse(c, "t");
    } catch (const FormatError&) {
    }
  }
}

TEST(Container, KindChecked) {
  auto bytes = serialize(sample());
  EXPECT_NO_THROW(parse_as(bytes, Kind::kRequest, "t"));
  EXPECT_THROW(parse_as(bytes, Kind::kEvalKeys, "t"), FormatError);
}

TEST(Container, NamesMustMatchCells) {
  auto c = sample();
  c.names = {"only-one"};
  EXPECT_THROW(parse(serialize(c), "t"), FormatError);
}

TEST(Container, Ids) {
  auto a = random_id(), b = random_id();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(is_valid_id(a));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_FALSE(is_valid_id("../etc"));
  EXPECT_FALSE(is_valid_id(std::string(65, 'a')));
}

}  // namespace
}  // namespace leukocrypt::wire
