// CIFAR-10 .bin, CryptoNets .tsv and manifest writers and validating readers.
#include "data/formats.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"

namespace leukocrypt::data {

namespace fs = std::filesystem;

namespace {

std::size_t pixels_of(int image_size) {
  require(image_size >= 1 && image_size <= 1024, "image size must be in [1, 1024], got " + std::to_string(image_size));
  return 3 * static_cast<std::size_t>(image_size) * image_size;
}

void check_record(const Record& r, std::size_t n) {
  require(r.pixels.size() == n, "record '" + r.source + "' has " + std::to_string(r.pixels.size()) +
                                    " pixel values, expected " + std::to_string(n));
  require(r.label >= 0 && r.label <= 255, "record '" + r.source + "' has label " + std::to_string(r.label));
}

// Splits a line on tabs (no allocation of the pieces).
std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return out;
}

bool parse_int(std::string_view s, long long& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Iterates the lines of a text file (a trailing '\r' is dropped).
template <class F>
void for_each_line(const std::string& text, F&& f) {
  std::size_t start = 0, lineno = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    std::string_view line(text.data() + start, (nl == std::string::npos ? text.size() : nl) - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line, ++lineno);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

}  // namespace

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError("cannot write '" + path.string() + "'");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw IoError("cannot write '" + path.string() + "' (disk full?)");
}

std::string encode_cifar(const std::vector<const Record*>& records, int image_size) {
  const std::size_t n = pixels_of(image_size);
  std::string bytes;
  bytes.reserve(records.size() * (n + 1));
  for (const Record* r : records) {
    check_record(*r, n);
    bytes.push_back(static_cast<char>(r->label));
    bytes.append(reinterpret_cast<const char*>(r->pixels.data()), n);
  }
  return bytes;
}

void write_cifar_bin(const fs::path& path, const std::vector<const Record*>& records, int image_size) {
  write_bytes(path, encode_cifar(records, image_size));
}

std::vector<Sample> read_cifar_bin(const fs::path& path, int image_size, int num_labels) {
  const std::size_t n = pixels_of(image_size), rec = n + 1;
  const std::string bytes = read_file(path, kMaxRecords * rec);
  if (bytes.size() % rec != 0)
    throw FormatError("'" + path.string() + "' has " + std::to_string(bytes.size()) +
                      " bytes, not a multiple of the record size " + std::to_string(rec) + " (1 + 3*" +
                      std::to_string(image_size) + "*" + std::to_string(image_size) + ")");
  std::vector<Sample> out(bytes.size() / rec);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data()) + i * rec;
    if (p[0] >= num_labels)
      throw FormatError("'" + path.string() + "' record " + std::to_string(i) + " has label " +
                        std::to_string(p[0]) + ", expected < " + std::to_string(num_labels));
    out[i].label = p[0];
    out[i].pixels.assign(p + 1, p + rec);
  }
  return out;
}

std::string encode_tsv(const std::vector<const Record*>& records, int image_size) {
  const std::size_t n = pixels_of(image_size);
  std::string text;
  text.reserve(records.size() * (n * 4 + 4));
  char buf[8];
  for (const Record* r : records) {
    check_record(*r, n);
    auto [e, ec] = std::to_chars(buf, buf + sizeof buf, r->label);
    text.append(buf, e);
    for (std::uint8_t v : r->pixels) {
      text.push_back('\t');
      auto [e2, ec2] = std::to_chars(buf, buf + sizeof buf, static_cast<int>(v));
      text.append(buf, e2);
    }
    text.push_back('\n');
  }
  return text;
}

void write_tsv(const fs::path& path, const std::vector<const Record*>& records, int image_size) {
  write_bytes(path, encode_tsv(records, image_size));
}

std::vector<Sample> read_tsv(const fs::path& path, int image_size, int num_labels) {
  const std::size_t n = pixels_of(image_size);
  const std::string text = read_file(path, kMaxRecords * (4 * n + 8));
  std::vector<Sample> out;
  for_each_line(text, [&](std::string_view line, std::size_t lineno) {
    if (line.empty()) return;
    const std::string where = "'" + path.string() + "' line " + std::to_string(lineno);
    auto fields = split_tabs(line);
    if (fields.size() != n + 1)
      throw FormatError(where + " has " + std::to_string(fields.size()) + " fields, expected " +
                        std::to_string(n + 1) + " (label + 3*" + std::to_string(image_size) + "^2 values)");
    Sample s;
    long long v;
    if (!parse_int(fields[0], v) || v < 0 || v >= num_labels)
      throw FormatError(where + ": label '" + std::string(fields[0]) + "' is not in [0, " +
                        std::to_string(num_labels) + ")");
    s.label = static_cast<int>(v);
    s.pixels.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      if (!parse_int(fields[k + 1], v) || v < 0 || v > 255)
        throw FormatError(where + ": value " + std::to_string(k) + " '" + std::string(fields[k + 1]) +
                          "' is not an integer in [0, 255]");
      s.pixels[k] = static_cast<std::uint8_t>(v);
    }
    out.push_back(std::move(s));
  });
  return out;
}

void write_manifest(const fs::path& path, const std::vector<Record>& records) {
  std::string text = "index\tsource\tsubject\tlabel\tgroup\tsplit\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    for (const std::string* f : {&r.source, &r.subject, &r.group, &r.split})
      require(f->find_first_of("\t\n\r") == std::string::npos,
              "manifest field '" + *f + "' contains a tab or newline");
    text += std::to_string(i) + '\t' + r.source + '\t' + r.subject + '\t' + std::to_string(r.label) + '\t' + r.group +
            '\t' + r.split + '\n';
  }
  write_bytes(path, text);
}

std::vector<Record> read_manifest(const fs::path& path) {
  const std::string text = read_file(path, std::size_t(1) << 30);
  std::vector<Record> out;
  for_each_line(text, [&](std::string_view line, std::size_t lineno) {
    const std::string where = "'" + path.string() + "' line " + std::to_string(lineno);
    if (lineno == 1) {
      if (line != "index\tsource\tsubject\tlabel\tgroup\tsplit")
        throw FormatError(where + ": expected the header 'index source subject label group split'");
      return;
    }
    if (line.empty()) return;
    auto f = split_tabs(line);
    if (f.size() != 6) throw FormatError(where + " has " + std::to_string(f.size()) + " fields, expected 6");
    long long idx, label;
    if (!parse_int(f[0], idx) || idx != static_cast<long long>(out.size()))
      throw FormatError(where + ": index '" + std::string(f[0]) + "', expected " + std::to_string(out.size()));
    if (!parse_int(f[3], label) || (label != kLabelAll && label != kLabelHem))
      throw FormatError(where + ": label '" + std::string(f[3]) + "' is not 0 (all) or 1 (hem)");
    if (f[5] != "train" && f[5] != "test")
      throw FormatError(where + ": split '" + std::string(f[5]) + "' is not train or test");
    if (f[1].empty() || f[2].empty()) throw FormatError(where + ": empty source or subject");
    Record r;
    r.source = f[1];
    r.subject = f[2];
    r.label = static_cast<int>(label);
    r.group = f[4];
    r.split = f[5];
    out.push_back(std::move(r));
  });
  if (text.empty()) throw FormatError("'" + path.string() + "' is empty (expected a header line)");
  return out;
}

}  // namespace leukocrypt::data
