// Token embedding lookup on the GPU (kernels/cpu/embedding.cc's counterpart). Activations on the
// GPU are fp32, like the CPU backend's, so every kernel can be checked against it closely.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// out[i, :] = table[ids[i], :] widened to fp32.   table: [vocab, dim] in `table_dtype`;
// ids: [n_ids] int32; out: [n_ids, dim] fp32. All pointers are device memory.
// An id outside [0, vocab) yields a row of NaN instead of reading out of bounds.
cudaError_t EmbeddingGather(const void* table, DType table_dtype, int64_t vocab, int64_t dim,
                            const int32_t* ids, int64_t n_ids, float* out, cudaStream_t stream);

}  // namespace tessera::cuda
