// The Transformer (core/models/transformer.h) on a GPU: the same layers, step for step, with
// the kernels of kernels/cuda/. Activations and the KV cache are fp32 on the device; weights stay
// in the file's dtype. One token (a decode step) runs its projections as GEMVs, fused where they
// share an input, and is captured once in a CUDA graph that every later step replays: the host
// then spends one copy and one launch per step, and the GPU runs the step's kernels back to back.
// Several tokens (prefill) run as tensor-core GEMMs on bf16/fp16 activations and tensor-core
// attention; F32 weights go through cuBLAS and the attention kernel in full fp32 precision.
// A pass may hold chunks of several sequences (continuous batching): their rows go through the
// projections together; rotation, the cache writes and attention run per chunk.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "core/models/cuda/cuda_status.h"
#include "core/models/cuda/device_weights.h"
#include "core/models/cuda/step_inputs.h"
#include "core/models/cuda_backend.h"
#include "core/models/transformer.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/attention_prefill_tensor_core.h"
#include "kernels/cuda/bias.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/launch_overlap.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/swiglu.h"
#include "kernels/cuda/token_choice.h"
#include "kernels/cuda/token_draw.h"

namespace tessera {
namespace {

// `parts` as one tensor, where they lie back to back in memory in one dtype: matrices of one width
// stacked row after row, or vectors joined end to end; nullopt where they do not.
std::optional<Tensor> BackToBack(std::span<Tensor* const> parts) {
  const Tensor& first = *parts.front();
  const char* next = static_cast<const char*>(first.data);
  int64_t rows = 0;
  int64_t numel = 0;
  for (const Tensor* t : parts) {
    if (t->data != next || t->dtype != first.dtype || t->rank != first.rank ||
        (first.rank > 1 && t->cols() != first.cols())) {
      return std::nullopt;
    }
    next += t->bytes();
    rows += t->rows();
    numel += t->numel();
  }
  Tensor joined = first.rank == 1 ? Tensor(first.data, first.dtype, {numel})
                                  : Tensor(first.data, first.dtype, {rows, first.cols()});
  joined.device = first.device;
  return joined;
}

// The KV-cache pool in the memory of one device.
class DeviceKvMemory : public KvMemory {
 public:
  explicit DeviceKvMemory(int device) : device_(device) {}
  absl::StatusOr<void*> Allocate(size_t bytes) override {
    TESSERA_RETURN_IF_ERROR(
        cuda::CheckFreeMemory(device_, static_cast<int64_t>(bytes), "the model's KV cache would"));
    void* data = nullptr;
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMalloc(&data, bytes));
    return data;
  }
  void Free(void* data) override {
    cudaSetDevice(device_);
    cudaFree(data);
  }
  absl::Status Copy(void* dst, const void* src, size_t bytes) override {
    TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    return absl::OkStatus();
  }
  int64_t FreeBytes() const override {
    size_t free = 0, total = 0;
    if (cudaSetDevice(device_) != cudaSuccess || cudaMemGetInfo(&free, &total) != cudaSuccess) {
      return 0;
    }
    return static_cast<int64_t>(free);
  }

 private:
  int device_;
};

struct DeviceLayer {
  AttentionConfig config;
  Tensor attn_norm, ffn_norm;                      // [hidden]
  Tensor q, k, v, o;                               // as AttentionWeights
  std::optional<Tensor> q_bias, k_bias, v_bias;    // [rows]
  std::optional<Tensor> q_norm, k_norm;            // [head_dim]
  Tensor gate, up, down;                           // as SwiGluWeights
  // q, k and v as one [q rows + 2 kv rows, hidden] matrix, and their biases as one vector, where
  // they lie back to back and nothing comes between the projection and the rotation (no q or k
  // norm): several tokens' projections are then one GEMM.
  std::optional<Tensor> qkv, qkv_bias;
};

// The layer's q, k and v biases that it has.
std::vector<Tensor*> QkvBiases(DeviceLayer& layer) {
  std::vector<Tensor*> biases;
  for (std::optional<Tensor>* bias : {&layer.q_bias, &layer.k_bias, &layer.v_bias}) {
    if (bias->has_value()) biases.push_back(&**bias);
  }
  return biases;
}

// Rows on their way into matrix products: fp32, or already rounded to the 16-bit type of the
// weights that multiply them (s.x16), which the norm and SwiGLU kernels write directly so that
// a GEMM needs no conversion pass before it. One token's GEMVs may take the residual stream
// itself and apply its norm first (`norm`, with a weight).
struct ProductInput {
  void* data = nullptr;
  DType dtype = DType::kF32;
  cuda::GemvNorm norm;
};

// One pass's activations and inputs, for up to `tokens` tokens.
struct Scratch {
  int64_t tokens = 0;
  cuda::DeviceBuffer<float> x, norm;         // [tokens, hidden]
  cuda::DeviceBuffer<float> q, attended;     // [tokens, q_dim]
  // [tokens, q_dim + 2 kv_dim]: the projections' rows on their way into the rotation and the
  // cache. One GEMM of stacked q/k/v weights leaves each token's q, k and v side by side; separate
  // ones leave q in `q` and k's rows, then v's, here.
  cuda::DeviceBuffer<float> qkv;
  // [2, tokens, ffn]: the gate projection's rows, then the up projection's; fp32, or in a
  // prompt's GEMMs the weights' 16-bit type (then half the buffer).
  cuda::DeviceBuffer<float> gate_up;
  cuda::DeviceBuffer<uint16_t> x16;          // [tokens, max(hidden, q_dim, ffn)] GEMM operand
  cuda::StepInputs inputs;                   // [tokens * layers] views, [tokens] ids, ...
};

// Which decode graph a step replays. Decode attention's grid covers max_kv_len positions, and
// the blocks past the cache's length return at once but still cost their launch, so steps are
// captured per power-of-two bound on the length: at most half the grid idles. A batch of decoding
// sequences (one token each) has graphs of its own, per batch size.
struct DecodeGraphKey {
  bool long_rope = false;  // LongRoPE's long frequency table instead of the short one
  int64_t max_kv_len = 0;
  int64_t batch = 1;

  bool operator==(const DecodeGraphKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const DecodeGraphKey& key) {
    return H::combine(std::move(h), key.long_rope, key.max_kv_len, key.batch);
  }
};

// The bound of the shortest contexts' graph.
constexpr uint64_t kShortestDecodeGraph = 256;

// The largest batch of decoding sequences a graph is captured for; larger ones are launched
// kernel by kernel. The graphs' buffers are sized for it when the model is created.
constexpr int64_t kMaxGraphBatch = 128;

// cuBLAS's workspace: 32 MiB, what NVIDIA suggests for Hopper.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

// One sequence's chunk as a pass runs it: rows [first, first + n) of the pass's activations, at
// cache positions [start, start + n).
struct ChunkPlan {
  int64_t first = 0;
  int64_t n = 0;
  int64_t start = 0;
  KvCache* cache = nullptr;
  DecodeGraphKey key;  // its rotation table, and the bound of its decode attention's grid
};

const void* DataOrNull(const std::optional<Tensor>& t) { return t ? t->data : nullptr; }

ModelInfo WithKvCacheDType(ModelInfo info, DType dtype) {
  info.kv_shape.dtype = dtype;
  return info;
}
DType DTypeOrF32(const std::optional<Tensor>& t) { return t ? t->dtype : DType::kF32; }

class CudaTransformer : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<Model>> Create(const Transformer& host, int device,
                                                       const UploadProgress& progress,
                                                       DType kv_cache_dtype);
  ~CudaTransformer() override {
    cudaSetDevice(device_);
    for (const auto& [key, graph] : decode_graphs_) cudaGraphExecDestroy(graph);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  const ModelInfo& info() const override { return info_; }
  KvMemory& kv_memory() const override { return kv_memory_; }
  std::string device() const override { return absl::StrCat("cuda:", device_); }

  absl::Status Forward(std::span<const int32_t> tokens, KvCache& cache,
                       std::span<float> logits) const override;
  absl::StatusOr<TokenChoice> ForwardAndChoose(std::span<const int32_t> tokens, KvCache& cache,
                                               std::span<const LogitAdjustment> adjustments,
                                               const TokenDraw* draw, int n_top) const override;
  absl::StatusOr<std::vector<TokenChoice>> ForwardBatchAndChoose(
      std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
      absl::FunctionRef<void()> meanwhile) const override;

 private:
  CudaTransformer(const Transformer& host, int device, DType kv_cache_dtype)
      : device_(device),
        info_(WithKvCacheDType(host.info(), kv_cache_dtype)),
        rms_norm_eps_(host.rms_norm_eps()),
        rope_switch_position_(host.rope_switch_position()),
        kv_memory_(device),
        weights_(device) {}

  absl::Status AllocateScratch(Scratch& s, int64_t n) const;
  // Runs every chunk through the model in one pass (re-encoding a chunk's cached tokens first
  // where LongRoPE's switch demands it), leaving each chunk's last token's logits in
  // PassLogits(chunks.size()); then `collect` enqueues what brings the results back, the stream
  // is synchronized, and the caches record the tokens. One chunk of one token replays the decode
  // step's graph.
  absl::Status RunPass(std::span<const SequenceChunk> chunks,
                       const std::function<absl::Status()>& collect) const;
  // ForwardBatchAndChoose, calling `meanwhile` once the pass and the choices' copy back are
  // queued, unless it fails before that.
  absl::StatusOr<std::vector<TokenChoice>> PassAndChoose(std::span<const SequenceChunk> chunks,
                                                         std::span<const ChoiceSpec> choices,
                                                         absl::FunctionRef<void()> meanwhile) const;
  // Where a pass of `chunks` chunks leaves its logits, [chunks, vocab]: in logits_, whose address
  // the decode graphs hold, up to kMaxGraphBatch chunks; in batch_logits_ beyond.
  float* PassLogits(size_t chunks) const {
    return static_cast<int64_t>(chunks) <= kMaxGraphBatch ? logits_.data() : batch_logits_.data();
  }
  // Where a kernel leaves n rows that only `weights` multiply next: for more than one row and
  // weights all of one 16-bit type, s.x16 in that type; otherwise `fp32`.
  static ProductInput InputFor(const Scratch& s, int64_t n,
                               std::initializer_list<const Tensor*> weights, float* fp32);
  // The n rows x as a GEMM over w takes them: as they are when in w's type, otherwise (fp32
  // rows, 16-bit weights) converted into s.x16.
  absl::StatusOr<const void*> GemmOperand(const Scratch& s, ProductInput x, const Tensor& w,
                                          int64_t n) const;
  // y = x @ w^T for n rows of x: a GEMV for one (fp32) row, a GEMM for more. With add_to_y,
  // y += x @ w^T.
  absl::Status Linear(const Scratch& s, ProductInput x, const Tensor& w, int64_t n, float* y,
                      bool add_to_y = false) const;
  // Whether a pass over n tokens leaves the layers' norms to its GEMVs, which it does for one
  // token where they gain from it: its layers then run no norm kernel.
  bool NormsInGemvs(int64_t n) const {
    return n == 1 && cuda::GemvNormPays(info_.hidden_size, layers_.front().gate.dtype);
  }
  // The input of the products after RMSNorm `weight` of the residual stream s.x: s.x itself, which
  // the GEMVs normalize, where NormsInGemvs; else the norm written to `rows`.
  absl::StatusOr<ProductInput> NormInput(const Scratch& s, int64_t n, const Tensor& weight,
                                         ProductInput rows) const;
  // RMSNorm `weight` of s.x written to `rows`.
  absl::Status WriteNorm(const Scratch& s, int64_t n, const Tensor& weight,
                         ProductInput rows) const;
  // The GEMMs of n > 1 rows x over w0 and w1 into y and y + y_stride (values of y_dtype: fp32, or
  // the weights' type): one batched GEMM where the weights lie back to back (Create uploads each
  // layer's pairs so), two otherwise.
  absl::Status LinearPair(const Scratch& s, ProductInput x, const Tensor& w0, const Tensor& w1,
                          int64_t n, void* y, DType y_dtype, int64_t y_stride) const;
  // Every kernel of a pass over n tokens (the chunks' rows) on stream_, each chunk's last
  // token's logits left in `logits`. The projections run over all n rows; rotation and attention
  // per chunk, chunk c reading its cache through s.inputs' views [c * layers + l]. One token
  // reads its cache only through those views, so that the pass captured for one sequence's step
  // replays for any other whose cache holds at most key.max_kv_len positions.
  absl::Status EnqueuePass(const Scratch& s, int64_t n, std::span<const ChunkPlan> chunks,
                           float* logits) const;
  // The attention and feed-forward blocks of layer l, `input` their norm's output.
  absl::Status AttentionLayer(const Scratch& s, int l, int64_t n, std::span<const ChunkPlan> chunks,
                              ProductInput input) const;
  absl::Status FeedForwardLayer(const Scratch& s, int l, int64_t n, ProductInput input) const;
  // Runs the decode step's graph for `chunks` (one token each, one key), capturing it on first
  // use.
  absl::Status ReplayDecodeStep(std::span<const ChunkPlan> chunks) const;

  int device_;
  ModelInfo info_;
  float rms_norm_eps_;
  int64_t rope_switch_position_;
  mutable DeviceKvMemory kv_memory_;
  cuda::DeviceWeights weights_;
  Tensor token_embd_, output_norm_, output_;
  std::vector<DeviceLayer> layers_;
  cuda::DeviceBuffer<float> inv_freq_, long_inv_freq_;  // [rotary_dim / 2]
  cuda::DeviceBuffer<float> logits_;                    // [kMaxGraphBatch, vocab]
  cuda::PinnedBuffer<float> host_logits_;               // [vocab], for a fast copy back
  mutable cuda::DeviceBuffer<float> batch_logits_;      // [chunks, vocab] past kMaxGraphBatch
  // The token choices on the device: the pass's logit adjustments go up (every chunk's, one
  // after another), one TokenChoice per chunk comes back.
  mutable cuda::PinnedBuffer<LogitAdjustment> host_adjustments_;
  mutable cuda::DeviceBuffer<LogitAdjustment> adjustments_;
  cuda::DeviceBuffer<uint8_t> choice_workspace_;
  mutable cuda::DeviceBuffer<uint8_t> batch_choice_workspace_;  // ChooseGreedyTokens's
  mutable cuda::DeviceBuffer<TokenChoice> choices_;
  mutable cuda::PinnedBuffer<TokenChoice> host_choices_;
  // Decode attention's: for up to kMaxGraphBatch sequences, as the graphs hold it; for more, grown
  // as needed.
  cuda::DeviceBuffer<uint8_t> decode_workspace_;
  mutable cuda::DeviceBuffer<uint8_t> batch_decode_workspace_;
  cuda::DeviceBuffer<uint8_t> cublas_workspace_;  // cuBLAS's, set so that graphs may capture it
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  // Decode steps (up to kMaxGraphBatch sequences) use their own buffers, which never move, so
  // their graphs stay valid.
  mutable Scratch decode_scratch_, prefill_scratch_;
  mutable absl::flat_hash_map<DecodeGraphKey, cudaGraphExec_t> decode_graphs_;
};

absl::Status CudaTransformer::AllocateScratch(Scratch& s, int64_t n) const {
  const int64_t hidden = info_.hidden_size;
  const int64_t q_dim = int64_t{info_.num_heads} * info_.head_dim;
  const int64_t kv_dim = info_.kv_shape.values_per_token_per_layer();
  const int64_t ffn = layers_.front().gate.rows();
  s.tokens = 0;
  TESSERA_RETURN_IF_CUDA_ERROR(s.x.Allocate(n * hidden));
  TESSERA_RETURN_IF_CUDA_ERROR(s.norm.Allocate(n * hidden));
  TESSERA_RETURN_IF_CUDA_ERROR(s.q.Allocate(n * q_dim));
  TESSERA_RETURN_IF_CUDA_ERROR(s.attended.Allocate(n * q_dim));
  TESSERA_RETURN_IF_CUDA_ERROR(s.qkv.Allocate(n * (q_dim + 2 * kv_dim)));
  TESSERA_RETURN_IF_CUDA_ERROR(s.gate_up.Allocate(2 * n * ffn));
  TESSERA_RETURN_IF_CUDA_ERROR(s.x16.Allocate(n * std::max({hidden, q_dim, ffn})));
  // At most one chunk a token, each with a view per layer.
  TESSERA_RETURN_IF_CUDA_ERROR(s.inputs.Allocate(static_cast<int>(n * layers_.size()), n));
  s.tokens = n;
  return absl::OkStatus();
}

ProductInput CudaTransformer::InputFor(const Scratch& s, int64_t n,
                                       std::initializer_list<const Tensor*> weights, float* fp32) {
  const DType dtype = (*weights.begin())->dtype;
  const bool one_16_bit_type =
      dtype != DType::kF32 && std::all_of(weights.begin(), weights.end(),
                                          [&](const Tensor* w) { return w->dtype == dtype; });
  if (n > 1 && one_16_bit_type) return {s.x16.data(), dtype};
  return {fp32, DType::kF32};
}

absl::StatusOr<const void*> CudaTransformer::GemmOperand(const Scratch& s, ProductInput x,
                                                         const Tensor& w, int64_t n) const {
  if (x.dtype == w.dtype) return x.data;
  if (x.dtype != DType::kF32) {
    return absl::InternalError("a GEMM's rows rounded to a type its weights are not in");
  }
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::ConvertFromFloat(
      static_cast<const float*>(x.data), n * w.cols(), w.dtype, s.x16.data(), stream_));
  return s.x16.data();
}

absl::Status CudaTransformer::Linear(const Scratch& s, ProductInput x, const Tensor& w, int64_t n,
                                     float* y, bool add_to_y) const {
  if (n == 1) {
    if (x.dtype != DType::kF32) return absl::InternalError("a GEMV's row not in fp32");
    const cuda::GemvMatrix matrix{.w = w.data, .rows = w.rows(), .y = y, .add_to_y = add_to_y};
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::GemvFused(
        {&matrix, 1}, w.dtype, static_cast<const float*>(x.data), w.cols(), x.norm, stream_));
    return absl::OkStatus();
  }
  if (x.norm.weight != nullptr) return absl::InternalError("a GEMM asked to normalize its rows");
  TESSERA_ASSIGN_OR_RETURN(const void* operand, GemmOperand(s, x, w, n));
  TESSERA_RETURN_IF_CUBLAS_ERROR(
      cuda::Matmul(cublas_, operand, w.data, w.dtype, n, w.rows(), w.cols(), y, add_to_y, stream_));
  return absl::OkStatus();
}

absl::StatusOr<ProductInput> CudaTransformer::NormInput(const Scratch& s, int64_t n,
                                                        const Tensor& weight,
                                                        ProductInput rows) const {
  if (NormsInGemvs(n)) {
    return ProductInput{
        .data = s.x.data(),
        .norm = {.weight = weight.data, .dtype = weight.dtype, .eps = rms_norm_eps_}};
  }
  TESSERA_RETURN_IF_ERROR(WriteNorm(s, n, weight, rows));
  return rows;
}

absl::Status CudaTransformer::WriteNorm(const Scratch& s, int64_t n, const Tensor& weight,
                                        ProductInput rows) const {
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::RmsNorm(s.x.data(), weight.data, weight.dtype, rms_norm_eps_,
                                             n, info_.hidden_size, rows.data, rows.dtype, stream_));
  return absl::OkStatus();
}

absl::Status CudaTransformer::LinearPair(const Scratch& s, ProductInput x, const Tensor& w0,
                                         const Tensor& w1, int64_t n, void* y, DType y_dtype,
                                         int64_t y_stride) const {
  const bool together = w1.data == static_cast<const char*>(w0.data) + w0.bytes() &&
                        w1.dtype == w0.dtype && w1.rows() == w0.rows() && w1.cols() == w0.cols();
  const Tensor* const pair[] = {&w0, &w1};
  for (int i = 0; i < (together ? 1 : 2); ++i) {
    const Tensor& w = *pair[i];
    TESSERA_ASSIGN_OR_RETURN(const void* operand, GemmOperand(s, x, w, n));
    TESSERA_RETURN_IF_CUBLAS_ERROR(cuda::MatmulSharedInput(
        cublas_, operand, w.data, w.rows() * w.cols(), together ? 2 : 1, w.dtype, n, w.rows(),
        w.cols(), static_cast<char*>(y) + i * y_stride * DTypeSize(y_dtype), y_dtype, y_stride,
        stream_));
  }
  return absl::OkStatus();
}

absl::Status CudaTransformer::AttentionLayer(const Scratch& s, int l, int64_t n,
                                             std::span<const ChunkPlan> chunks,
                                             ProductInput input) const {
  const DeviceLayer& layer = layers_[l];
  const AttentionConfig& c = layer.config;
  const int64_t q_dim = int64_t{c.num_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.num_kv_heads} * c.head_dim;
  float* q = s.q.data();  // [n, num_heads, head_dim], rotated in the end
  // Where separate products leave k and v: [n, num_kv_heads, head_dim] each.
  float* k = s.qkv.data();
  float* v = k + s.tokens * kv_dim;
  cuda::ProjectedRows projected{q, k, v, q_dim, kv_dim};
  const RopeConfig& rope = c.rope;
  const DType cache_dtype = info_.kv_shape.dtype;
  const cuda::KvCacheView* views = s.inputs.views() + l;  // chunk i's at views[i * layers]
  // One token rotates q and k and stores k and v in its q/k/v GEMV, unless q and k are
  // normalized between the projection and the rotation.
  const bool rope_in_gemv = n == 1 && !layer.q_norm && !layer.k_norm;
  if (n == 1) {
    const auto* x = static_cast<const float*>(input.data);
    const cuda::GemvMatrix qkv[] = {
        {layer.q.data, layer.q.rows(), q, DataOrNull(layer.q_bias), DTypeOrF32(layer.q_bias)},
        {layer.k.data, kv_dim, k, DataOrNull(layer.k_bias), DTypeOrF32(layer.k_bias)},
        {layer.v.data, kv_dim, v, DataOrNull(layer.v_bias), DTypeOrF32(layer.v_bias)}};
    if (rope_in_gemv) {
      const cuda::GemvRope gemv_rope{
          .position = s.inputs.positions(),
          .inv_freq = chunks.front().key.long_rope ? long_inv_freq_.data() : inv_freq_.data(),
          .rotary_dim = rope.rotary_dim,
          .style = rope.style,
          .scale = rope.attention_factor,
          .head_dim = c.head_dim,
          .cache = views,
          .cache_dtype = cache_dtype};
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::GemvQkvRope(qkv, layer.q.dtype, x, layer.q.cols(), input.norm, gemv_rope, stream_));
    } else {
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::GemvFused(qkv, layer.q.dtype, x, layer.q.cols(), input.norm, stream_));
    }
  } else if (layer.qkv) {
    const int64_t width = q_dim + 2 * kv_dim;
    float* qkv = s.qkv.data();  // [n, width]
    TESSERA_RETURN_IF_ERROR(Linear(s, input, *layer.qkv, n, qkv));
    if (layer.qkv_bias) {
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::AddBias(qkv, layer.qkv_bias->data, layer.qkv_bias->dtype, n, width, stream_));
    }
    projected = {qkv, qkv + q_dim, qkv + q_dim + kv_dim, width, width};
  } else {
    TESSERA_RETURN_IF_ERROR(Linear(s, input, layer.q, n, q));
    TESSERA_RETURN_IF_ERROR(LinearPair(s, input, layer.k, layer.v, n, k, DType::kF32, v - k));
    if (layer.q_bias) {
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::AddBias(q, layer.q_bias->data, layer.q_bias->dtype, n, layer.q.rows(), stream_));
    }
    if (layer.k_bias) {
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::AddBias(k, layer.k_bias->data, layer.k_bias->dtype, n, kv_dim, stream_));
    }
    if (layer.v_bias) {
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::AddBias(v, layer.v_bias->data, layer.v_bias->dtype, n, kv_dim, stream_));
    }
  }
  if (layer.q_norm) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::RmsNorm(q, layer.q_norm->data, layer.q_norm->dtype,
                                               c.norm_eps, n * c.num_heads, c.head_dim, q,
                                               DType::kF32, stream_));
  }
  if (layer.k_norm) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::RmsNorm(k, layer.k_norm->data, layer.k_norm->dtype,
                                               c.norm_eps, n * c.num_kv_heads, c.head_dim, k,
                                               DType::kF32, stream_));
  }
  const cpu::AttentionShape shape = KernelShape(c);
  const int layers = static_cast<int>(layers_.size());
  // A batch's tokens find their sequence's views through token_views; one chunk needs none (its
  // graph then depends on nothing but the views).
  const int32_t* token_views = chunks.size() > 1 ? s.inputs.token_views() : nullptr;
  // Rotation and the cache writes of rows [first, first + count), all with one frequency table.
  const auto rotate = [&](int64_t first, int64_t count, bool long_rope) {
    return cuda::RopeAndStoreKv(
        projected.From(first), q + first * q_dim, s.inputs.positions() + first, count, c.num_heads,
        c.num_kv_heads, c.head_dim, rope.rotary_dim,
        long_rope ? long_inv_freq_.data() : inv_freq_.data(), rope.style, rope.attention_factor,
        views, token_views != nullptr ? token_views + first : nullptr, cache_dtype, stream_);
  };
  // Attention writes the o projection's operand itself, in the weights' 16-bit type where they
  // have one.
  const bool tensor_core_prefill =
      layer.q.dtype != DType::kF32 && cuda::AttentionPrefillTensorCoreSupports(shape);
  const ProductInput attended = InputFor(s, n, {&layer.o}, s.attended.data());
  const auto attended_row = [&](int64_t token) {
    return static_cast<char*>(attended.data) + token * q_dim * DTypeSize(attended.dtype);
  };
  const bool one_table = std::all_of(chunks.begin(), chunks.end(), [&](const ChunkPlan& chunk) {
    return chunk.key.long_rope == chunks.front().key.long_rope;
  });
  if (!rope_in_gemv) {
    if (one_table) {
      TESSERA_RETURN_IF_CUDA_ERROR(rotate(0, n, chunks.front().key.long_rope));
    } else {
      // LongRoPE sequences on both sides of the switch: a launch per chunk.
      for (const ChunkPlan& chunk : chunks) {
        TESSERA_RETURN_IF_CUDA_ERROR(rotate(chunk.first, chunk.n, chunk.key.long_rope));
      }
    }
  }
  for (size_t i = 0; i < chunks.size();) {
    const ChunkPlan& chunk = chunks[i];
    float* chunk_q = q + chunk.first * q_dim;
    void* chunk_out = attended_row(chunk.first);
    if (chunk.n == 1) {
      // A run of one-token chunks (consecutive rows) in one launch.
      size_t end = i;
      int64_t max_kv_len = 0;
      for (; end < chunks.size() && chunks[end].n == 1; ++end) {
        max_kv_len = std::max(max_kv_len, chunks[end].key.max_kv_len);
      }
      const cuda::DeviceBuffer<uint8_t>& workspace = static_cast<int64_t>(end - i) <= kMaxGraphBatch
                                                         ? decode_workspace_
                                                         : batch_decode_workspace_;
      TESSERA_RETURN_IF_CUDA_ERROR(cuda::AttentionDecodeBatch(
          chunk_q, views + i * layers, layers, static_cast<int64_t>(end - i), cache_dtype,
          max_kv_len, shape, workspace.data(), workspace.size(), chunk_out, attended.dtype,
          stream_));
      i = end;
      continue;
    }
    const cuda::KvCacheView* view = views + i * layers;
    if (tensor_core_prefill) {
      // 16-bit weights: bf16 tensor cores, at their precision.
      TESSERA_RETURN_IF_CUDA_ERROR(
          cuda::AttentionPrefillTensorCore(chunk_q, view, cache_dtype, chunk.n, chunk.start, shape,
                                           chunk_out, attended.dtype, stream_));
    } else {
      TESSERA_RETURN_IF_CUDA_ERROR(cuda::AttentionPrefill(chunk_q, view, cache_dtype, chunk.n,
                                                          chunk.start, shape, chunk_out,
                                                          attended.dtype, stream_));
    }
    ++i;
  }
  return Linear(s, attended, layer.o, n, s.x.data(), /*add_to_y=*/true);
}

absl::Status CudaTransformer::FeedForwardLayer(const Scratch& s, int l, int64_t n,
                                               ProductInput input) const {
  const DeviceLayer& layer = layers_[l];
  const int64_t ffn = layer.gate.rows();
  float* activated_fp32 = s.gate_up.data();
  if (n == 1) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::GemvSwiGlu(
        layer.gate.data, layer.up.data, layer.gate.dtype, static_cast<const float*>(input.data),
        ffn, layer.gate.cols(), input.norm, activated_fp32, stream_));
    return Linear(s, {activated_fp32}, layer.down, n, s.x.data(), /*add_to_y=*/true);
  }
  // Gate and up rows in the type of their operand (EnqueuePass chose it with InputFor: the
  // weights' 16-bit type where they share one, else fp32): SwiGLU reads them once, and they are
  // 3/4 of the bytes it moves.
  const DType product_dtype = input.dtype;
  TESSERA_RETURN_IF_ERROR(
      LinearPair(s, input, layer.gate, layer.up, n, s.gate_up.data(), product_dtype, n * ffn));
  const void* up =
      reinterpret_cast<const char*>(s.gate_up.data()) + n * ffn * DTypeSize(product_dtype);
  const ProductInput activated = InputFor(s, n, {&layer.down}, activated_fp32);
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::SwiGlu(s.gate_up.data(), up, product_dtype, n * ffn,
                                            activated.data, activated.dtype, stream_));
  return Linear(s, activated, layer.down, n, s.x.data(), /*add_to_y=*/true);
}

absl::Status CudaTransformer::EnqueuePass(const Scratch& s, int64_t n,
                                          std::span<const ChunkPlan> chunks, float* logits) const {
  const int64_t hidden = info_.hidden_size;
  float* norm = s.norm.data();  // [n, hidden]
  // The residual stream, s.x [n, hidden], starts as the tokens' embeddings.
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::EmbeddingGather(token_embd_.data, token_embd_.dtype,
                                                     info_.vocab_size, hidden, s.inputs.ids(), n,
                                                     s.x.data(), stream_));
  const int layers = static_cast<int>(layers_.size());
  for (int l = 0; l < layers; ++l) {
    const DeviceLayer& layer = layers_[l];
    // x += attention(rms_norm(x)), then x += feed_forward(rms_norm(x)); each block's last
    // projection adds itself to x.
    TESSERA_ASSIGN_OR_RETURN(
        ProductInput input,
        NormInput(s, n, layer.attn_norm, InputFor(s, n, {&layer.q, &layer.k, &layer.v}, norm)));
    TESSERA_RETURN_IF_ERROR(AttentionLayer(s, l, n, chunks, input));
    TESSERA_ASSIGN_OR_RETURN(
        input, NormInput(s, n, layer.ffn_norm, InputFor(s, n, {&layer.gate, &layer.up}, norm)));
    TESSERA_RETURN_IF_ERROR(FeedForwardLayer(s, l, n, input));
  }
  // The final norm, in fp32, written out even where the GEMVs normalize: the LM head's GEMV runs
  // in many waves of blocks, and each would pay for the norm again.
  TESSERA_RETURN_IF_ERROR(WriteNorm(s, n, output_norm_, ProductInput{norm}));
  // Logits of each chunk's last token only: that is all sampling needs.
  if (chunks.size() == 1) return Linear(s, {norm + (n - 1) * hidden}, output_, 1, logits);
  // One token a chunk (a decoding batch): every row is a last row.
  if (static_cast<int64_t>(chunks.size()) == n) return Linear(s, {norm}, output_, n, logits);
  // [chunks, hidden]: the residual stream is spent once the final norm has read it.
  float* last = s.x.data();
  for (size_t i = 0; i < chunks.size(); ++i) {
    TESSERA_RETURN_IF_CUDA_ERROR(
        cudaMemcpyAsync(last + i * hidden, norm + (chunks[i].first + chunks[i].n - 1) * hidden,
                        hidden * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  }
  return Linear(s, {last}, output_, static_cast<int64_t>(chunks.size()), logits);
}

absl::Status CudaTransformer::ReplayDecodeStep(std::span<const ChunkPlan> chunks) const {
  const DecodeGraphKey& key = chunks.front().key;
  cudaGraphExec_t& exec = decode_graphs_[key];
  if (exec == nullptr) {
    TESSERA_RETURN_IF_CUDA_ERROR(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    const int64_t n = static_cast<int64_t>(chunks.size());
    const absl::Status enqueued = EnqueuePass(decode_scratch_, n, chunks, PassLogits(n));
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (enqueued.ok() && ended == cudaSuccess) {
      // Only our own kernels wait for their predecessors' results themselves; a batch's GEMMs
      // (cuBLAS) do not, so their graphs keep full dependencies.
      absl::Status instantiated =
          n == 1 ? cuda::CudaStatus(cuda::OverlapKernelLaunches(graph), "OverlapKernelLaunches",
                                    __FILE__, __LINE__)
                 : absl::OkStatus();
      if (instantiated.ok()) {
        instantiated = cuda::CudaStatus(cudaGraphInstantiate(&exec, graph, 0),
                                        "cudaGraphInstantiate", __FILE__, __LINE__);
      }
      cudaGraphDestroy(graph);
      if (!instantiated.ok()) decode_graphs_.erase(key);
      TESSERA_RETURN_IF_ERROR(instantiated);
    } else {
      decode_graphs_.erase(key);
      if (graph != nullptr) cudaGraphDestroy(graph);
      TESSERA_RETURN_IF_ERROR(enqueued);
      TESSERA_RETURN_IF_CUDA_ERROR(ended);
    }
  }
  TESSERA_RETURN_IF_CUDA_ERROR(cudaGraphLaunch(exec, stream_));
  return absl::OkStatus();
}

absl::Status CudaTransformer::RunPass(std::span<const SequenceChunk> chunks,
                                      const std::function<absl::Status()>& collect) const {
  std::vector<std::vector<int32_t>> reencoded;
  TESSERA_ASSIGN_OR_RETURN(const std::vector<SequenceChunk> pass,
                           ChunksToRun(rope_switch_position_, chunks, reencoded));
  std::vector<ChunkPlan> plans;
  int64_t n = 0;  // rows of the pass
  for (size_t i = 0; i < pass.size(); ++i) {
    KvCache& cache = *pass[i].cache;
    const int64_t chunk_n = static_cast<int64_t>(pass[i].tokens.size());
    const int64_t start = cache.length();
    if (start + chunk_n > info_.context_length) {
      // The decode workspace and graphs are sized for the context length.
      return absl::InternalError("Forward: past the model's context length");
    }
    plans.push_back(
        {.first = n,
         .n = chunk_n,
         .start = start,
         .cache = &cache,
         .key = {.long_rope = UsesLongFrequencies(layers_.front().config.rope, start, chunk_n),
                 .max_kv_len = start + chunk_n}});
    n += chunk_n;
  }
  // Decoding sequences only (one token each), few enough and with one rotation table: a graph.
  const bool decode_step = n == static_cast<int64_t>(plans.size()) && n <= kMaxGraphBatch &&
                           std::all_of(plans.begin(), plans.end(), [&](const ChunkPlan& plan) {
                             return plan.key.long_rope == plans.front().key.long_rope;
                           });
  if (decode_step) {
    // The graph serves every context up to the next power of two of the longest.
    int64_t longest = 0;
    for (const ChunkPlan& plan : plans) longest = std::max(longest, plan.key.max_kv_len);
    const DecodeGraphKey key{.long_rope = plans.front().key.long_rope,
                             .max_kv_len = static_cast<int64_t>(std::min(
                                 std::bit_ceil(std::max<uint64_t>(longest, kShortestDecodeGraph)),
                                 static_cast<uint64_t>(info_.context_length))),
                             .batch = n};
    for (ChunkPlan& plan : plans) plan.key = key;
  }
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
  Scratch& s = decode_step ? decode_scratch_ : prefill_scratch_;
  if (n > s.tokens) TESSERA_RETURN_IF_ERROR(AllocateScratch(s, n));
  const int layers = static_cast<int>(layers_.size());
  int64_t table_entries = 0;  // every chunk's block table, one after another
  for (const ChunkPlan& plan : plans) {
    table_entries += static_cast<int64_t>(plan.cache->block_table().size());
  }
  TESSERA_RETURN_IF_CUDA_ERROR(s.inputs.ReserveBlockTables(table_entries));
  int64_t table_offset = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const ChunkPlan& plan = plans[i];
    std::copy(pass[i].tokens.begin(), pass[i].tokens.end(),
              s.inputs.host_ids().begin() + plan.first);
    std::iota(s.inputs.host_positions().begin() + plan.first,
              s.inputs.host_positions().begin() + plan.first + plan.n,
              static_cast<int32_t>(plan.start));
    const std::span<const int32_t> table = plan.cache->block_table();
    std::copy(table.begin(), table.end(), s.inputs.host_block_tables().begin() + table_offset);
    const KvCachePool& pool = plan.cache->pool();
    for (int l = 0; l < layers; ++l) {
      s.inputs.host_views()[i * layers + l] = {pool.keys(l), pool.values(l),
                                               s.inputs.block_tables() + table_offset,
                                               plan.start + plan.n};
    }
    table_offset += static_cast<int64_t>(table.size());
    std::fill_n(s.inputs.host_token_views().begin() + plan.first, plan.n,
                static_cast<int32_t>(i * layers));
  }
  const int64_t one_token_chunks =
      std::count_if(plans.begin(), plans.end(), [](const ChunkPlan& plan) { return plan.n == 1; });
  if (one_token_chunks > kMaxGraphBatch) {
    const size_t bytes = cuda::AttentionDecodeWorkspaceBytes(
        KernelShape(layers_.front().config), info_.context_length, one_token_chunks);
    if (bytes > batch_decode_workspace_.size()) {
      TESSERA_RETURN_IF_CUDA_ERROR(batch_decode_workspace_.Allocate(bytes));
    }
  }
  TESSERA_RETURN_IF_CUDA_ERROR(
      s.inputs.Upload(static_cast<int64_t>(plans.size()) * layers, table_entries, stream_));
  if (decode_step) {
    TESSERA_RETURN_IF_ERROR(ReplayDecodeStep(plans));
  } else {
    TESSERA_RETURN_IF_ERROR(EnqueuePass(s, n, plans, PassLogits(plans.size())));
  }
  TESSERA_RETURN_IF_ERROR(collect());
  TESSERA_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
  for (const SequenceChunk& chunk : pass) chunk.cache->Extend(chunk.tokens);
  return absl::OkStatus();
}

absl::Status CudaTransformer::Forward(std::span<const int32_t> tokens, KvCache& cache,
                                      std::span<float> logits) const {
  if (logits.size() != static_cast<size_t>(info_.vocab_size)) {
    return absl::InternalError("Forward: logits do not hold the vocabulary");
  }
  const SequenceChunk chunk{tokens, &cache};
  TESSERA_RETURN_IF_ERROR(RunPass({&chunk, 1}, [&]() -> absl::Status {
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(host_logits_.data(), logits_.data(),
                                                 logits.size_bytes(), cudaMemcpyDeviceToHost,
                                                 stream_));
    return absl::OkStatus();
  }));
  std::copy_n(host_logits_.data(), logits.size(), logits.begin());
  return absl::OkStatus();
}

absl::StatusOr<TokenChoice> CudaTransformer::ForwardAndChoose(
    std::span<const int32_t> tokens, KvCache& cache,
    std::span<const LogitAdjustment> adjustments, const TokenDraw* draw, int n_top) const {
  const SequenceChunk chunk{tokens, &cache};
  const ChoiceSpec choice{adjustments, draw, n_top};
  TESSERA_ASSIGN_OR_RETURN(std::vector<TokenChoice> chosen,
                           ForwardBatchAndChoose({&chunk, 1}, {&choice, 1}, [] {}));
  return chosen.front();
}

absl::StatusOr<std::vector<TokenChoice>> CudaTransformer::ForwardBatchAndChoose(
    std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
    absl::FunctionRef<void()> meanwhile) const {
  // Run once: inside the pass once it is queued, or after it where it failed before that.
  bool ran_meanwhile = false;
  const auto run_meanwhile = [&] {
    if (!std::exchange(ran_meanwhile, true)) meanwhile();
  };
  const absl::StatusOr<std::vector<TokenChoice>> chosen =
      PassAndChoose(chunks, choices, run_meanwhile);
  run_meanwhile();
  return chosen;
}

absl::StatusOr<std::vector<TokenChoice>> CudaTransformer::PassAndChoose(
    std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
    absl::FunctionRef<void()> meanwhile) const {
  const size_t n_chunks = chunks.size();
  const int64_t vocab = info_.vocab_size;
  size_t n_adjustments = 0;
  for (const ChoiceSpec& choice : choices) n_adjustments += choice.adjustments.size();
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
  if (n_adjustments > host_adjustments_.size()) {
    TESSERA_RETURN_IF_CUDA_ERROR(host_adjustments_.Allocate(n_adjustments));
    TESSERA_RETURN_IF_CUDA_ERROR(adjustments_.Allocate(n_adjustments));
  }
  if (n_chunks > choices_.size()) {
    TESSERA_RETURN_IF_CUDA_ERROR(choices_.Allocate(n_chunks));
    TESSERA_RETURN_IF_CUDA_ERROR(host_choices_.Allocate(n_chunks));
  }
  if (static_cast<int64_t>(n_chunks) > kMaxGraphBatch && n_chunks * vocab > batch_logits_.size()) {
    TESSERA_RETURN_IF_CUDA_ERROR(batch_logits_.Allocate(n_chunks * vocab));
  }
  // Without adjustments (the usual batch) the greedy passes of all chunks run as one.
  const bool one_greedy_pass = n_adjustments == 0 && n_chunks > 1;
  int most_top = 0;
  for (const ChoiceSpec& choice : choices) most_top = std::max(most_top, choice.n_top);
  const size_t greedy_bytes =
      cuda::GreedyTokensWorkspaceBytes(static_cast<int64_t>(n_chunks), vocab);
  if (one_greedy_pass && greedy_bytes > batch_choice_workspace_.bytes()) {
    // Its counters start at zero.
    TESSERA_RETURN_IF_CUDA_ERROR(batch_choice_workspace_.AllocateZeroed(greedy_bytes, stream_));
  }
  std::vector<size_t> first_adjustment(n_chunks);  // each chunk's, in adjustments_
  size_t offset = 0;
  for (size_t i = 0; i < n_chunks; ++i) {
    first_adjustment[i] = offset;
    std::copy(choices[i].adjustments.begin(), choices[i].adjustments.end(),
              host_adjustments_.data() + offset);
    offset += choices[i].adjustments.size();
  }
  TESSERA_RETURN_IF_ERROR(RunPass(chunks, [&]() -> absl::Status {
    if (n_adjustments > 0) {
      TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(adjustments_.data(), host_adjustments_.data(),
                                                   n_adjustments * sizeof(LogitAdjustment),
                                                   cudaMemcpyHostToDevice, stream_));
    }
    const float* logits = PassLogits(n_chunks);
    if (one_greedy_pass) {
      // Each chunk's top list is cut to its own length once back on the host.
      TESSERA_RETURN_IF_CUDA_ERROR(cuda::ChooseGreedyTokens(
          logits, static_cast<int64_t>(n_chunks), vocab, most_top, batch_choice_workspace_.data(),
          batch_choice_workspace_.bytes(), choices_.data(), stream_));
      for (size_t i = 0; i < n_chunks; ++i) {
        if (choices[i].draw == nullptr) continue;
        const float* row = logits + i * vocab;
        TESSERA_RETURN_IF_CUDA_ERROR(
            cuda::DrawToken(row, row, vocab, *choices[i].draw, choice_workspace_.data(),
                            choice_workspace_.bytes(), choices_.data() + i, stream_));
      }
    } else {
      for (size_t i = 0; i < n_chunks; ++i) {
        const ChoiceSpec& choice = choices[i];
        TESSERA_RETURN_IF_CUDA_ERROR(cuda::ChooseToken(
            logits + i * vocab, vocab, adjustments_.data() + first_adjustment[i],
            static_cast<int64_t>(choice.adjustments.size()), choice.draw, choice.n_top,
            choice_workspace_.data(), choice_workspace_.bytes(), choices_.data() + i, stream_));
      }
    }
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(host_choices_.data(), choices_.data(),
                                                 n_chunks * sizeof(TokenChoice),
                                                 cudaMemcpyDeviceToHost, stream_));
    meanwhile();
    return absl::OkStatus();
  }));
  std::vector<TokenChoice> chosen(host_choices_.data(), host_choices_.data() + n_chunks);
  for (size_t i = 0; i < n_chunks; ++i) {
    chosen[i].n_top = std::min(chosen[i].n_top, static_cast<int32_t>(choices[i].n_top));
  }
  return chosen;
}

absl::StatusOr<std::unique_ptr<Model>> CudaTransformer::Create(const Transformer& host, int device,
                                                               const UploadProgress& progress,
                                                               DType kv_cache_dtype) {
  const TransformerWeights& w = host.weights();
  std::unique_ptr<CudaTransformer> model(new CudaTransformer(host, device, kv_cache_dtype));
  // The weights start as the host's tensors, then are replaced in place by their device copies.
  model->token_embd_ = w.token_embd;
  model->output_norm_ = w.output_norm;
  model->output_ = w.output;
  for (const TransformerLayer& host_layer : w.layers) {
    const AttentionWeights& a = host_layer.attention.weights();
    model->layers_.push_back(DeviceLayer{
        .config = host_layer.attention.config(),
        .attn_norm = host_layer.attn_norm, .ffn_norm = host_layer.ffn_norm,
        .q = a.q, .k = a.k, .v = a.v, .o = a.o,
        .q_bias = a.q_bias, .k_bias = a.k_bias, .v_bias = a.v_bias,
        .q_norm = a.q_norm, .k_norm = a.k_norm,
        .gate = host_layer.ffn.gate, .up = host_layer.ffn.up, .down = host_layer.ffn.down});
  }
  for (const DeviceLayer& layer : model->layers_) {
    // The decode step's fused GEMVs read these matrices with one element type.
    if (layer.k.dtype != layer.q.dtype || layer.v.dtype != layer.q.dtype ||
        layer.up.dtype != layer.gate.dtype) {
      return absl::UnimplementedError(
          "the CUDA backend needs q, k and v, and gate and up, stored in one dtype each");
    }
  }
  std::vector<Tensor*> weights = {&model->token_embd_, &model->output_norm_, &model->output_};
  for (DeviceLayer& layer : model->layers_) {
    for (Tensor* t : {&layer.attn_norm, &layer.ffn_norm, &layer.o, &layer.down}) {
      weights.push_back(t);
    }
    for (std::optional<Tensor>* t : {&layer.q_norm, &layer.k_norm}) {
      if (t->has_value()) weights.push_back(&**t);
    }
  }
  // Sized before anything is uploaded; a tensor used twice (tied embeddings) counts once.
  int64_t total = 0;
  absl::flat_hash_set<const void*> counted;
  for (const Tensor* t : weights) {
    if (counted.insert(t->data).second) total += static_cast<int64_t>(t->bytes());
  }
  for (DeviceLayer& layer : model->layers_) {
    for (const Tensor* t : QkvBiases(layer)) total += static_cast<int64_t>(t->bytes());
    total += static_cast<int64_t>(layer.q.bytes() + layer.k.bytes() + layer.v.bytes() +
                                  layer.gate.bytes() + layer.up.bytes());
  }
  TESSERA_RETURN_IF_ERROR(cuda::CheckFreeMemory(device, total, "the model's weights"));

  TESSERA_RETURN_IF_CUDA_ERROR(cudaStreamCreateWithFlags(&model->stream_, cudaStreamNonBlocking));
  TESSERA_RETURN_IF_CUBLAS_ERROR(cublasCreate(&model->cublas_));
  TESSERA_RETURN_IF_CUBLAS_ERROR(cublasSetStream(model->cublas_, model->stream_));
  // A workspace of our own (after cublasSetStream, which resets it), so that no GEMM allocates
  // while a batched decode step is being captured.
  TESSERA_RETURN_IF_CUDA_ERROR(model->cublas_workspace_.Allocate(kCublasWorkspaceBytes));
  TESSERA_RETURN_IF_CUBLAS_ERROR(cublasSetWorkspace(model->cublas_, model->cublas_workspace_.data(),
                                                    model->cublas_workspace_.size()));
  for (Tensor* t : weights) {
    TESSERA_ASSIGN_OR_RETURN(*t, model->weights_.Upload(*t));
    progress(model->weights_.bytes(), total);
  }
  // Back to back, so that a batch's q, k and v projections are one GEMM (or k and v one batched
  // GEMM, LinearPair, where q's rows are normalized before the rotation), and its gate and up
  // projections another.
  for (DeviceLayer& layer : model->layers_) {
    Tensor* const qkv[] = {&layer.q, &layer.k, &layer.v};
    Tensor* const gate_up[] = {&layer.gate, &layer.up};
    const std::vector<Tensor*> biases = QkvBiases(layer);
    TESSERA_RETURN_IF_ERROR(model->weights_.UploadTogether(qkv));
    TESSERA_RETURN_IF_ERROR(model->weights_.UploadTogether(biases));
    TESSERA_RETURN_IF_ERROR(model->weights_.UploadTogether(gate_up));
    if (!layer.q_norm && !layer.k_norm) layer.qkv = BackToBack(qkv);
    if (!biases.empty()) {
      if (biases.size() == 3) layer.qkv_bias = BackToBack(biases);
      if (!layer.qkv_bias) layer.qkv.reset();
    }
    progress(model->weights_.bytes(), total);
  }

  const Attention& first = w.layers.front().attention;
  const AttentionConfig& config = first.config();
  TESSERA_RETURN_IF_CUDA_ERROR(model->inv_freq_.Upload(first.InverseFrequencies(0, 1)));
  if (!config.rope.long_frequency_factors.empty()) {
    TESSERA_RETURN_IF_CUDA_ERROR(model->long_inv_freq_.Upload(
        first.InverseFrequencies(0, config.rope.original_context + 1)));
  }
  TESSERA_RETURN_IF_CUDA_ERROR(model->logits_.Allocate(kMaxGraphBatch * model->info_.vocab_size));
  TESSERA_RETURN_IF_CUDA_ERROR(model->host_logits_.Allocate(model->info_.vocab_size));
  // Its counters start at zero: zeroed once, on the stream its kernels run on (which does not
  // wait for the default stream).
  TESSERA_RETURN_IF_CUDA_ERROR(model->choice_workspace_.AllocateZeroed(
      cuda::TokenChoiceWorkspaceBytes(model->info_.vocab_size), model->stream_));
  TESSERA_RETURN_IF_CUDA_ERROR(model->choices_.Allocate(1));
  TESSERA_RETURN_IF_CUDA_ERROR(model->host_choices_.Allocate(1));
  TESSERA_RETURN_IF_ERROR(model->AllocateScratch(model->decode_scratch_, kMaxGraphBatch));
  const cpu::AttentionShape shape = KernelShape(config);
  TESSERA_RETURN_IF_CUDA_ERROR(model->decode_workspace_.Allocate(
      cuda::AttentionDecodeWorkspaceBytes(shape, model->info_.context_length, kMaxGraphBatch)));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace

DType DefaultCudaKvCacheDType(const ModelInfo& info) {
  // Decode attention loads a 16-bit cache eight values at a time.
  return info.weight_dtype != DType::kF32 && info.head_dim % 8 == 0 ? info.weight_dtype
                                                                    : DType::kF32;
}

absl::StatusOr<std::unique_ptr<Model>> UploadToCuda(const Model& model, int device,
                                                    const UploadProgress& progress,
                                                    std::optional<DType> kv_cache_dtype) {
  const int count = CudaDeviceCount();
  if (device < 0 || device >= count) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "device cuda:", device, " does not exist (", count, " CUDA devices)")),
                      reason::kUnsupportedDevice);
  }
  const auto* transformer = dynamic_cast<const Transformer*>(&model);
  if (transformer == nullptr) {
    return absl::UnimplementedError(absl::StrCat("the ", model.info().architecture,
                                                 " model has no CUDA implementation"));
  }
  return CudaTransformer::Create(*transformer, device, progress,
                                 kv_cache_dtype.value_or(DefaultCudaKvCacheDType(model.info())));
}

}  // namespace tessera
