// Reads real cells straight from the shared data folder with OpenCV (INTER_AREA resize).
#include "real_cells.h"

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <stdexcept>

namespace leukocrypt::nn::testing {

std::vector<Cell> load_real_cells(int count, int size) {
  const std::string root = std::string(LEUKOCRYPT_DATA_DIR) + "/cnmc-fold1-225/";
  std::ifstream manifest(root + "MANIFEST.tsv");
  if (!manifest) throw std::runtime_error("missing " + root + "MANIFEST.tsv");
  std::vector<std::string> all, hem;
  std::string line;
  std::getline(manifest, line);
  while (std::getline(manifest, line)) {
    std::istringstream is(line);
    std::string file, subject, cls;
    is >> file >> subject >> cls;
    (cls == "all" ? all : hem).push_back(file);
  }
  std::vector<Cell> cells;
  for (int i = 0; i < count; ++i) {
    const auto& list = (i % 2 == 0) ? all : hem;
    // Spread over the whole list so several subjects appear.
    const std::string file = list[(std::size_t(i / 2) * 97) % list.size()];
    cv::Mat img = cv::imread(root + file, cv::IMREAD_COLOR);
    if (img.empty()) throw std::runtime_error("cannot read " + root + file);
    cv::Mat small;
    cv::resize(img, small, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    Cell c;
    c.file = file;
    c.label = i % 2;
    c.pixels.resize(std::size_t(3) * size * size);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const auto& bgr = small.at<cv::Vec3b>(y, x);
        for (int ch = 0; ch < 3; ++ch)
          c.pixels[(std::size_t(ch) * size + y) * size + x] = bgr[2 - ch];
      }
    cells.push_back(std::move(c));
  }
  return cells;
}

}  // namespace leukocrypt::nn::testing
