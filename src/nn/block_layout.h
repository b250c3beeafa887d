// Spatial blocks of the throughput layout (issue 11): a batch of few cells leaves most of a
// ciphertext's slots empty (C-NMC group C: 1,198 cells in N = 16384 slots), so the slots are cut
// into B blocks of S slots, one cell per slot of a block, and block b carries the b-th horizontal
// strip of the first (convolution) layer's output rows. Convolution weights do not depend on the
// position, so one ciphertext per (map, row in the strip, column) computes that output for all B
// strips at once with the same scalar weights: B times fewer input ciphertexts, first-layer
// multiply-adds, squares and mod switches. The next linear layer's weights do depend on the
// position: its output k is computed once per block (S_{k,b}, the taps of strip b, scalar weights
// again) and the blocks are added into block 0 by rotations (the block sum): one key switch per
// block but the first, plus the row swap when blocks sit in both rows of BFV's 2 x N/2 slot
// matrix. Layers after that see one value per slot of block 0, as in the plain throughput layout.
//
// Layout: m = ceil(B/2) blocks per slot row, S = floor(N/2 / m) slots each (the cells of a
// batch); block b sits in row b / m at offset (b % m) * S; cell i of a batch is slot i of every
// block, so the logits are slots 0 .. cells-1 of block 0, where the plain layout has them too.
// The input ciphertext u holds, in block b, the input value source[u * B + b] of each cell
// (-1: zero padding above or below the image). Slots outside the blocks, and blocks 1..B-1 of the
// results (partial sums), carry values of no cell: the server masks them with uniform values
// before a result leaves it when circuit privacy is on (nn/circuit_privacy.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace leukocrypt::nn {

struct BlockLayout {
  std::size_t n = 0;               // ring degree
  std::size_t count = 1;           // B (1: the plain throughput layout, one cell per slot of all N)
  std::size_t per_row = 1;         // m = ceil(B / 2)
  std::size_t slots = 0;           // S: slots per block, the cells of one batch
  std::size_t rows_per_block = 0;  // output rows of the first layer per block
  std::vector<std::int32_t> source;  // [input ciphertext * B + block] -> input value of the cell, -1 = 0
  // The first layer's geometry the packing follows (what the key holder needs: client_json).
  int in_c = 0, in_h = 0, in_w = 0, kernel_h = 0, stride = 1, padding = 0, out_rows = 0;

  // The layout for a convolution over CHW inputs in_c x in_h x in_w (kernel_h rows, stride,
  // padding, out_rows output rows) in B blocks at ring degree n; throws InvalidArgument when B is
  // not canonical for out_rows or the blocks do not fit N.
  static BlockLayout make(std::size_t n, std::size_t blocks, int in_c, int in_h, int in_w, int kernel_h, int stride,
                          int padding, int out_rows);

  // S for B blocks at ring degree n: floor(N/2 / ceil(B/2)) (0 when they do not fit).
  static std::size_t slots_per_block(std::size_t n, std::size_t blocks) { return (n / 2) / ((blocks + 1) / 2); }

  bool empty() const { return count <= 1; }
  // Input rows one block's strip reads (its window).
  std::size_t window_rows() const { return (rows_per_block - 1) * std::size_t(stride) + std::size_t(kernel_h); }
  std::size_t inputs() const { return empty() ? 0 : source.size() / count; }
  // Slot of cell `cell` in block b.
  std::size_t slot(std::size_t b, std::size_t cell) const { return (b / per_row) * (n / 2) + (b % per_row) * slots + cell; }
  // Row rotations of the block sum (block b % m of a row to offset 0): S, 2S, .., (m-1)S.
  std::vector<int> rotation_steps() const;
  // The row swap (rotate_columns) joins the second row's blocks to the first.
  bool swaps() const { return count > per_row; }
  // Key switches of one block sum: (blocks in row 0) - 1 + (blocks in row 1) - 1 + the swap, i.e.
  // B - 1 whether or not the blocks fill both rows.
  std::size_t key_switches() const { return empty() ? 0 : count - 1; }
  nlohmann::json to_json() const;  // blocks, slots per block, rows per block, rotations
  // What the model card tells the key holder (n, blocks and the geometry), and back (validated,
  // FormatError on anything off; the source map is recomputed, never read).
  nlohmann::json client_json() const;
  static BlockLayout from_client_json(const nlohmann::json& j);
};

// Canonical block counts for a first layer of `out_rows` output rows: B such that
// ceil(out_rows / ceil(out_rows / B)) == B (every block holds rows, the last possibly fewer).
bool canonical_block_count(std::size_t out_rows, std::size_t blocks);

}  // namespace leukocrypt::nn
