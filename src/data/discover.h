// Finding the cells of an input folder: the C-NMC layouts (original
// `C-NMC_training_data/fold_*/{all,hem}/*.bmp`, or any folder with `all/` and `hem/`
// subfolders) and the flat ALL-IDB2 layout (`ImXXX_Y.*`, Y=1 blast, Y=0 normal).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace leukocrypt::data {

enum class Layout { kAuto, kCnmc, kAllIdb2 };
Layout parse_layout(const std::string& name);  // "auto" | "cnmc" | "all-idb2"; throws InvalidArgument
std::string layout_name(Layout layout);

// One input cell image, before decoding.
struct CellFile {
  std::filesystem::path path;  // absolute or as given
  std::string source;          // path relative to the input folder, '/' separated
  std::string subject;         // "16", "H10"; ALL-IDB2: the image stem ("Im001_1")
  int label = 0;               // kLabelAll / kLabelHem
};

// A file the discovery step could not use (only collected when skipping bad input).
struct BadInput {
  std::string source;
  std::string reason;
};

struct Discovery {
  Layout layout = Layout::kCnmc;  // the layout actually found
  std::vector<std::string> class_dirs;  // C-NMC: every all/ and hem/ folder read (relative)
  std::vector<CellFile> cells;          // sorted by source
  std::vector<BadInput> bad;            // skipped files/folders (skip_bad only)
  std::size_t ignored_non_images = 0;   // files without an image extension (e.g. notes)
};

// Subject id from a C-NMC name `UID_<subject>_<image>_<cell>_<all|hem>` (stem, no extension);
// nullopt if the name does not follow that pattern. `cls` receives "all" or "hem".
std::optional<std::string> parse_cnmc_subject(const std::string& stem, std::string* cls = nullptr);

// Lists the cells under `input`. Without skip_bad, the first problem throws (FormatError/IoError,
// naming the file or folder): a name without a subject id, a name whose class disagrees with its
// folder, an empty class folder, an unreadable folder. With skip_bad those go to Discovery::bad.
// No cells at all always throws.
Discovery discover_cells(const std::filesystem::path& input, Layout layout = Layout::kAuto, bool skip_bad = false);

}  // namespace leukocrypt::data
