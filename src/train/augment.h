// Training-time augmentation as in the paper: horizontal and vertical flips (p = 0.5 each),
// rotation uniform in [0, 360), translation up to 20% of the side. One random affine map per image,
// applied to the whole batch with affine_grid + grid_sample (bilinear); pixels that come from
// outside the image are black, like the segmented cells' background. Uses the torch RNG (seeded).
#pragma once

#include <torch/torch.h>

namespace leukocrypt::train {

struct AugmentOptions {
  bool flips = true;
  double max_rotation_deg = 360.0;  // rotation uniform in [0, max)
  double max_translate = 0.2;       // fraction of the side, uniform in [-max, max] per axis
  // Stain/illumination variation between subjects: every image's channels are multiplied by
  // (1 + u) * (1 + u_c), u and u_c uniform in [-colour_jitter, colour_jitter] (0: off). Gains keep
  // the black background black, as the segmented cells have it.
  double colour_jitter = 0.0;
};

// x: float N x C x H x W. Returns a new tensor of the same shape.
torch::Tensor augment_batch(const torch::Tensor& x, const AugmentOptions& opt = {});

}  // namespace leukocrypt::train
