// The CPU backend: the readable reference for every op the models need. Activations are fp32,
// row-major, passed as pointers with their shapes; weights are Tensors of any supported dtype.
// Every function is a pure computation: no allocation visible to the caller, no global state.
#pragma once

#include <cstdint>

#include "kernels/tensor.h"
#include "kernels/token_choice.h"

namespace tessera::cpu {

// Threads the parallel kernels use (OpenMP); 0 or less: one per core.
void SetThreadCount(int n);
int ThreadCount();

// out[i, :] = table[ids[i], :] as fp32.                      table: [vocab, dim]
// Precondition (checked by the caller): every id is in [0, vocab).
void EmbeddingGather(const Tensor& table, const int32_t* ids, int64_t n_ids, float* out);

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight  x, out: [n_rows, dim]; weight: [dim]
// `out` may alias `x`.
void RmsNorm(const float* x, const Tensor& weight, float eps, int64_t n_rows, int64_t dim,
             float* out);

// y = x @ w^T: y[m, n] = sum_k x[m, k] * w[n, k].    x: [m, k]; w: [n, k] (Linear layout); y: [m, n]
// fp32 accumulation whatever w's dtype; parallel over n (OpenMP).
void Matmul(const float* x, const Tensor& w, int64_t m, float* y);

// x[r, :] += bias for every row.                              x: [n_rows, dim]; bias: [dim]
void AddBias(float* x, const Tensor& bias, int64_t n_rows);

// out = a + b, elementwise over n values. `out` may alias either input.
void Add(const float* a, const float* b, int64_t n, float* out);

// out = silu(gate) * up, silu(g) = g / (1 + exp(-g)). `out` may alias either input.
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);

// How a head's dimensions are paired for rotation.
enum class RopeStyle : uint8_t {
  kAdjacentPairs,  // (x[2i], x[2i+1]): llama.cpp's GGUF llama layout and llama2.c
  kHalves,         // (x[i], x[i + rotary_dim/2]): GPT-NeoX, Hugging Face checkpoints
};

// Rotates the first `rotary_dim` dims of every head in place; pair i of the token at position p
// turns by angle p * inv_freq[i] and is scaled by `scale` (LongRoPE's attention factor, which
// multiplies cos and sin; 1 for plain rotation). Dims past rotary_dim are untouched.
//   x: [n_tokens, n_heads, head_dim]; positions: [n_tokens]; inv_freq: [rotary_dim / 2]
void Rope(float* x, const int32_t* positions, int64_t n_tokens, int n_heads, int head_dim,
          int rotary_dim, const float* inv_freq, RopeStyle style, float scale);

struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;  // divides n_heads; query head h reads kv head h / (n_heads / n_kv_heads)
  int head_dim = 0;
  float scale = 0;  // usually 1 / sqrt(head_dim)
  // 0: every earlier position is visible. Otherwise a query sees only the last `sliding_window`
  // positions, its own included (Mistral's and Phi-3's sliding-window attention).
  int64_t sliding_window = 0;
};

// Causal scaled-dot-product attention of n_tokens new queries against a KV cache that already
// holds their keys and values. Query i sits at position p = first_position + i and attends to
// cache positions [0, p], or [p - sliding_window + 1, p] when a window is set.
//   q, out: [n_tokens, n_heads, head_dim]; k_cache, v_cache: one layer's pool of blocks,
//   [n_blocks, kKvBlockTokens, n_kv_heads, head_dim] (kernels/kv_blocks.h); block_table: the
//   sequence's blocks, [KvBlocksFor(first_position + n_tokens)]
// Parallel over (token, head) (OpenMP); softmax in fp32 with the max subtracted.
void Attention(const float* q, const float* k_cache, const float* v_cache,
               const int32_t* block_table, int64_t n_tokens, int64_t first_position,
               const AttentionShape& shape, float* out);

// The choice of the next token over `logits` ([vocab]) after `adjustments` (distinct tokens,
// each in [0, vocab)): greedy when `draw` is null, else the draw it describes (probabilities in
// double), with the n_top (at most kMaxChoiceTopLogits) largest unadjusted logits.
TokenChoice ChooseToken(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                        int64_t n_adjustments, const TokenDraw* draw, int n_top);

}  // namespace tessera::cpu
