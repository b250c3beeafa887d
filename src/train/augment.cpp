// Random affine augmentation of a batch.
#include "train/augment.h"

#include <cmath>

namespace leukocrypt::train {

torch::Tensor augment_batch(const torch::Tensor& x, const AugmentOptions& opt) {
  namespace F = torch::nn::functional;
  const int64_t n = x.size(0);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  auto angle = torch::rand({n}, f32) * static_cast<float>(opt.max_rotation_deg * M_PI / 180.0);
  auto fx = torch::ones({n}, f32), fy = torch::ones({n}, f32);
  if (opt.flips) {
    fx = torch::where(torch::rand({n}, f32) < 0.5, -fx, fx);
    fy = torch::where(torch::rand({n}, f32) < 0.5, -fy, fy);
  }
  // Normalised coordinates span [-1, 1], so a shift of t * side is 2t.
  auto t = static_cast<float>(2.0 * opt.max_translate);
  auto tx = (torch::rand({n}, f32) * 2 - 1) * t;
  auto ty = (torch::rand({n}, f32) * 2 - 1) * t;
  auto c = torch::cos(angle), s = torch::sin(angle);
  // theta = R(angle) * diag(fx, fy) with translation: sampling grid = theta * output coords.
  auto row0 = torch::stack({c * fx, -s * fy, tx}, 1);
  auto row1 = torch::stack({s * fx, c * fy, ty}, 1);
  auto theta = torch::stack({row0, row1}, 1);  // N x 2 x 3
  auto grid = F::affine_grid(theta, {n, x.size(1), x.size(2), x.size(3)}, /*align_corners=*/false);
  auto out = F::grid_sample(
      x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
  if (opt.colour_jitter > 0) {
    const auto j = static_cast<float>(opt.colour_jitter);
    auto global = 1 + (torch::rand({n, 1, 1, 1}, f32) * 2 - 1) * j;
    auto channel = 1 + (torch::rand({n, x.size(1), 1, 1}, f32) * 2 - 1) * j;
    out = (out * global * channel).clamp_(0.0, 1.0);
  }
  return out;
}

}  // namespace leukocrypt::train
