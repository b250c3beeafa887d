// Little-endian byte writer and a bounds-checked reader for serialization (internal). Every read
// names the field it was reading, so a truncated input yields "truncated <field>: need ...".
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"

namespace leukocrypt::bfv::detail {

class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  void words(const std::uint64_t* p, std::size_t n) {
    const std::size_t at = out_.size();
    out_.resize(at + 8 * n);
    std::memcpy(out_.data() + at, p, 8 * n);  // x86-64 / aarch64: little-endian hosts
  }
  std::string take() { return std::move(out_); }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(le(1, field)); }
  std::uint16_t u16(const char* field) { return static_cast<std::uint16_t>(le(2, field)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(le(4, field)); }
  std::uint64_t u64(const char* field) { return le(8, field); }
  void bytes(void* p, std::size_t n, const char* field) {
    need(n, field);
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  // Reads n words, each must be < bound.
  void words_below(std::uint64_t* p, std::size_t n, std::uint64_t bound, const std::string& field) {
    need_words(n, field.c_str());
    std::memcpy(p, in_.data() + pos_, 8 * n);
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] >= bound)
        throw FormatError("coefficient " + std::to_string(i) + " of " + field + " is " + std::to_string(p[i]) +
                          ", not below its modulus " + std::to_string(bound));
    pos_ += 8 * n;
  }
  void need_words(std::size_t n, const char* field) const {
    if (n > (in_.size() - pos_) / 8)
      throw FormatError(std::string("truncated ") + field + ": need " + std::to_string(8 * n) + " bytes at offset " +
                        std::to_string(pos_) + ", have " + std::to_string(in_.size() - pos_));
  }
  void finish(const char* what) const {
    if (pos_ != in_.size())
      throw FormatError(std::string(what) + ": " + std::to_string(in_.size() - pos_) + " trailing bytes");
  }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  void need(std::size_t n, const char* field) const {
    if (n > in_.size() - pos_)
      throw FormatError(std::string("truncated ") + field + ": need " + std::to_string(n) + " bytes at offset " +
                        std::to_string(pos_) + ", have " + std::to_string(in_.size() - pos_));
  }
  std::uint64_t le(int n, const char* field) {
    need(static_cast<std::size_t>(n), field);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

inline constexpr char kMagic[4] = {'L', 'K', 'C', 'R'};

}  // namespace leukocrypt::bfv::detail
