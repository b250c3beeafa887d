// Test helper: a few real C-NMC cells (fold 1, from LEUKOCRYPT_DATA_DIR) as planar RGB pixels
// 0..255, box-resized to S x S, balanced between the two classes. Deterministic order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace leukocrypt::nn::testing {

struct Cell {
  std::vector<float> pixels;  // 3*S*S, CHW, 0..255 integers
  int label = 0;              // 0 = all, 1 = hem
  std::string file;
};

// `count` cells (half ALL, half hem) of side `size`; throws if the data folder is missing.
std::vector<Cell> load_real_cells(int count, int size);

}  // namespace leukocrypt::nn::testing
