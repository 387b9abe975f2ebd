// The memory bandwidth a device actually reaches: a plain copy kernel's bytes read plus bytes
// written per second. Decode at batch 1 reads every weight once per token, so this figure over
// the bytes a step reads is the ceiling on tokens per second.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace tessera::bench {

struct CopyBandwidth {
  size_t bytes_each_way = 0;  // the size of the source and of the destination
  int repeats = 0;
  double best_seconds = 0;      // the fastest copy
  double bytes_per_second = 0;  // 2 * bytes_each_way / best_seconds
};

// Copies `bytes_each_way` (a multiple of 16) between two buffers on the current device
// `repeats` times after one warm-up copy, and keeps the fastest.
cudaError_t MeasureCopyBandwidth(size_t bytes_each_way, int repeats, CopyBandwidth* result);

}  // namespace tessera::bench
