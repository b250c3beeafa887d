// Little-endian byte writer and a bounds-checked reader for serialization (internal). Every read
// names the field it was reading, so a truncated input yields "truncated <field>: need ...".
// Coefficients are bit-packed: ceil(log2 q) bits each for values mod q.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"

namespace leukocrypt::rlwe::detail {

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
  // n values of `bits` bits each (1 <= bits <= 63, every value < 2^bits), least significant bit
  // first, in ceil(n * bits / 8) bytes; the unused high bits of the last byte are zero.
  void packed(const std::uint64_t* p, std::size_t n, int bits) {
    const std::size_t at = out_.size(), len = packed_bytes(n, bits);
    out_.resize(at + len);
    char* o = out_.data() + at;
    unsigned __int128 acc = 0;
    int have = 0;
    for (std::size_t i = 0; i < n; ++i) {
      acc |= static_cast<unsigned __int128>(p[i]) << have;
      have += bits;
      if (have >= 64) {
        const std::uint64_t w = static_cast<std::uint64_t>(acc);
        std::memcpy(o, &w, 8);  // little-endian hosts, as words()
        o += 8;
        acc >>= 64;
        have -= 64;
      }
    }
    const std::uint64_t w = static_cast<std::uint64_t>(acc);
    std::memcpy(o, &w, static_cast<std::size_t>(have + 7) / 8);
  }
  static std::size_t packed_bytes(std::size_t n, int bits) {
    return (n * static_cast<std::size_t>(bits) + 7) / 8;
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
  // Reads n values packed by ByteWriter::packed; each must be < bound, and the padding bits of the
  // last byte must be zero (one encoding per object).
  void packed_below(std::uint64_t* p, std::size_t n, int bits, std::uint64_t bound, const std::string& field) {
    const std::size_t len = ByteWriter::packed_bytes(n, bits);
    need(len, field.c_str());
    const auto* s = reinterpret_cast<const unsigned char*>(in_.data() + pos_);
    const std::uint64_t mask = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    // Value i starts at bit i * bits: the 8 bytes loaded at its first byte (w) hold it, plus the 9th
    // byte when it is wider than 64 - shift (only rows of more than 56 bits). No branch on the
    // value: the bound is checked once for the whole row.
    auto value = [&](std::size_t bit, std::uint64_t w) {
      const unsigned shift = bit & 7;
      std::uint64_t v = w >> shift;
      if (shift + unsigned(bits) > 64) v |= std::uint64_t(s[(bit >> 3) + 8]) << (64 - shift);
      return v & mask;
    };
    std::uint64_t bad = 0;
    std::size_t i = 0, bit = 0;
    for (; i < n && (bit >> 3) + 8 <= len; ++i, bit += std::size_t(bits)) {
      std::uint64_t w;
      std::memcpy(&w, s + (bit >> 3), 8);
      p[i] = value(bit, w);
      bad |= std::uint64_t(p[i] >= bound);
    }
    for (; i < n; ++i, bit += std::size_t(bits)) {  // the last bytes: a shorter load
      std::uint64_t w = 0;
      std::memcpy(&w, s + (bit >> 3), len - (bit >> 3));
      p[i] = value(bit, w);
      bad |= std::uint64_t(p[i] >= bound);
    }
    if (bad)
      for (i = 0; i < n; ++i)
        if (p[i] >= bound)
          throw FormatError("coefficient " + std::to_string(i) + " of " + field + " is " + std::to_string(p[i]) +
                            ", not below its modulus " + std::to_string(bound));
    const std::size_t used = (n * std::size_t(bits)) % 8;
    if (used != 0 && (s[len - 1] >> used) != 0) throw FormatError("nonzero padding bits after " + field);
    pos_ += len;
  }
  // Whether `bytes` more bytes are available (for a size check before allocating).
  void need_bytes(std::size_t bytes, const char* field) const { need(bytes, field); }
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

// Bits stored per coefficient of a value below `bound`: ceil(log2 bound).
inline int coeff_bits(std::uint64_t bound) { return std::bit_width(bound - 1); }

}  // namespace leukocrypt::rlwe::detail
