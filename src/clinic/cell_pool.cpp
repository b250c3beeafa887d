// Dropped cells, preprocessed as the model will see them (see cell_pool.h).
#include "clinic/cell_pool.h"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "clinic/clinic_error.h"
#include "common/error.h"
#include "data/discover.h"
#include "data/image.h"
#include "service/wire/container.h"

namespace leukocrypt::clinic {

nlohmann::json AddResult::to_json() const {
  if (!cell) return {{"name", name}, {"ok", false}, {"reason", reason}};
  return {{"name", name},
          {"ok", true},
          {"id", cell->id},
          {"folder_class", cell->folder_class},
          {"size", cell->size}};
}

std::string cnmc_folder_class(const std::string& name) {
  std::filesystem::path p(name);
  std::string folder = p.parent_path().filename().string();
  std::transform(folder.begin(), folder.end(), folder.begin(), [](unsigned char c) { return std::tolower(c); });
  if (folder != "all" && folder != "hem") return "";
  std::string cls;
  if (data::parse_cnmc_subject(p.stem().string(), &cls) && cls != folder)
    throw FormatError("the file name says '" + cls + "' but it is in the '" + folder + "' folder");
  return folder;
}

std::string thumbnail_png(const std::vector<std::uint8_t>& planar, int size) {
  const std::size_t plane = std::size_t(size) * size;
  cv::Mat bgr(size, size, CV_8UC3);
  for (std::size_t i = 0; i < plane; ++i) {
    auto* px = bgr.ptr<std::uint8_t>(0) + 3 * i;
    px[0] = planar[2 * plane + i];
    px[1] = planar[plane + i];
    px[2] = planar[i];
  }
  std::vector<std::uint8_t> out;
  if (!cv::imencode(".png", bgr, out)) throw Error("cannot encode a thumbnail");
  return std::string(out.begin(), out.end());
}

AddResult CellPool::add(const std::string& name, const std::string& bytes, int size) {
  AddResult r;
  r.name = name;
  try {
    require(size >= 1 && size <= data::kMaxImageSize, "image size must be in [1, 1024], got " + std::to_string(size));
    if (!data::is_image_file(name)) {
      r.reason = "not a BMP, PNG or JPEG image";
      return r;
    }
    if (bytes.size() > kMaxFileBytes) {
      r.reason = "larger than 64 MiB";
      return r;
    }
    PooledCell c;
    c.name = name;
    c.folder_class = cnmc_folder_class(name);
    c.size = size;
    data::PreprocessOptions o;
    o.size = size;
    c.pixels = data::preprocess_image(data::decode_image_rgb(bytes, name), o);
    c.thumb_png = thumbnail_png(c.pixels, size);
    c.id = wire::random_id().substr(0, 16);
    std::lock_guard lock(mu_);
    if (cells_.size() >= kMaxCells) {
      r.reason = "the clinic holds " + std::to_string(kMaxCells) + " cells already; screen or clear them first";
      return r;
    }
    r.cell = c;
    cells_.emplace(c.id, std::move(c));
  } catch (const InvalidArgument&) {
    throw;
  } catch (const std::exception& e) {
    r.reason = e.what();
  }
  return r;
}

std::vector<PooledCell> CellPool::take(const std::vector<std::string>& ids, int size) const {
  std::lock_guard lock(mu_);
  std::vector<PooledCell> out;
  for (const auto& id : ids) {
    auto it = cells_.find(id);
    if (it == cells_.end()) throw ClinicError(400, "unknown_cell", "no cell '" + id + "': add the cells again");
    if (it->second.size != size)
      throw ClinicError(400, "cell_size_mismatch",
                        "cell '" + it->second.name + "' was prepared at " + std::to_string(it->second.size) +
                            " px, this provider's model takes " + std::to_string(size) + ": add the cells again");
    out.push_back(it->second);
  }
  return out;
}

void CellPool::clear() {
  std::lock_guard lock(mu_);
  cells_.clear();
}

std::size_t CellPool::size() const {
  std::lock_guard lock(mu_);
  return cells_.size();
}

}  // namespace leukocrypt::clinic
