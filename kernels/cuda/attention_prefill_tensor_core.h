// Prefill attention on the tensor cores: the function AttentionPrefill computes (causal,
// grouped-query, sliding window; fp32 queries, a paged KV cache of any dtype), with Q, K, V and
// the softmax probabilities rounded to bf16 for warp-level matrix multiply-accumulate (mma.sync
// m16n8k16) and the scores, softmax and output accumulated in fp32; the output is stored in fp32
// or in the 16-bit type the o projection takes. It is for models whose
// weights are bf16 or fp16 anyway: there the fp32 CUDA-core kernel's precision buys nothing and
// its speed (a few percent of the tensor cores') is most of a long prefill. The fp32 kernel stays
// the reference-precision one.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/kv_cache_view.h"
#include "kernels/tensor.h"

namespace tessera::cuda {

using cpu::AttentionShape;

// Head dims it is built for: 64, 96 and 128 (the real models' sizes); others take the fp32
// kernel.
bool AttentionPrefillTensorCoreSupports(const AttentionShape& shape);

// As AttentionPrefill (attention_prefill.h), within bf16 rounding of its inputs, with the output
// stored in out_dtype (fp32, or the 16-bit type of the projection that takes it: the fp32 result
// rounded to nearest). Returns cudaErrorInvalidValue when the shape is not supported or a
// precondition fails (also more than 65535 * 64 tokens).
cudaError_t AttentionPrefillTensorCore(const float* q, const KvCacheView* cache, DType cache_dtype,
                                       int64_t n_tokens, int64_t first_position,
                                       const AttentionShape& shape, void* out, DType out_dtype,
                                       cudaStream_t stream);

}  // namespace tessera::cuda
