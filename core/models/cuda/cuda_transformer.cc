// The Transformer (core/models/transformer.h) on a GPU: the same layers, step for step, with
// the kernels of kernels/cuda/. Activations and the KV cache are fp32 on the device; weights stay
// in the file's dtype. With 16-bit weights one token runs its projections as GEMVs and several
// (prefill) as tensor-core GEMMs on bf16/fp16 activations; F32 weights go through cuBLAS in full
// fp32 precision either way.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/models/cuda/cuda_status.h"
#include "core/models/cuda/device_weights.h"
#include "core/models/cuda_backend.h"
#include "core/models/transformer.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/bias.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/swiglu.h"

namespace tessera {
namespace {

// KV caches in the memory of one device.
class DeviceKvMemory : public KvMemory {
 public:
  explicit DeviceKvMemory(int device) : device_(device) {}
  absl::StatusOr<float*> Allocate(size_t n) override {
    TESSERA_RETURN_IF_ERROR(cuda::CheckFreeMemory(device_, static_cast<int64_t>(n * sizeof(float)),
                                                  "the sequence's KV cache would"));
    float* data = nullptr;
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMalloc(&data, n * sizeof(float)));
    return data;
  }
  void Free(float* data) override {
    cudaSetDevice(device_);
    cudaFree(data);
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
};

// Per-step activations, grown to the largest step seen.
struct Scratch {
  int64_t tokens = 0;
  cuda::DeviceBuffer<float> x, norm, block;  // [tokens, hidden]
  cuda::DeviceBuffer<float> q, attended;     // [tokens, q_dim]
  cuda::DeviceBuffer<float> gate, up;        // [tokens, ffn]
  cuda::DeviceBuffer<uint16_t> x16;          // [tokens, max(hidden, q_dim, ffn)] GEMM operand
  cuda::DeviceBuffer<int32_t> ids, positions;  // [tokens]
};

class CudaTransformer : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<Model>> Create(const Transformer& host, int device,
                                                       const UploadProgress& progress);
  ~CudaTransformer() override {
    cudaSetDevice(device_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  const ModelInfo& info() const override { return info_; }
  KvMemory& kv_memory() const override { return kv_memory_; }
  std::string device() const override { return absl::StrCat("cuda:", device_); }

  absl::Status Forward(std::span<const int32_t> tokens, KvCache& cache,
                       std::span<float> logits) const override;

 private:
  CudaTransformer(const Transformer& host, int device)
      : device_(device),
        info_(host.info()),
        rms_norm_eps_(host.rms_norm_eps()),
        rope_switch_position_(host.rope_switch_position()),
        kv_memory_(device),
        weights_(device) {}

  absl::Status EnsureScratch(int64_t n) const;
  // y = x @ w^T for n rows of x: a GEMV for one row, a tensor-core GEMM for more.
  absl::Status Linear(const float* x, const Tensor& w, int64_t n, float* y) const;
  absl::Status AttentionLayer(int l, int64_t n, int64_t start, KvCache& cache) const;
  absl::Status FeedForwardLayer(int l, int64_t n) const;

  int device_;
  ModelInfo info_;
  float rms_norm_eps_;
  int64_t rope_switch_position_;
  mutable DeviceKvMemory kv_memory_;
  cuda::DeviceWeights weights_;
  Tensor token_embd_, output_norm_, output_;
  std::vector<DeviceLayer> layers_;
  cuda::DeviceBuffer<float> inv_freq_, long_inv_freq_;  // [rotary_dim / 2]
  cuda::DeviceBuffer<float> logits_;                    // [vocab]
  cuda::DeviceBuffer<uint8_t> decode_workspace_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  mutable Scratch scratch_;
};

absl::Status CudaTransformer::EnsureScratch(int64_t n) const {
  if (n <= scratch_.tokens) return absl::OkStatus();
  const int64_t hidden = info_.hidden_size;
  const int64_t q_dim = int64_t{info_.num_heads} * info_.head_dim;
  const int64_t ffn = layers_.front().gate.rows();
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.x.Allocate(n * hidden));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.norm.Allocate(n * hidden));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.block.Allocate(n * hidden));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.q.Allocate(n * q_dim));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.attended.Allocate(n * q_dim));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.gate.Allocate(n * ffn));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.up.Allocate(n * ffn));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.x16.Allocate(n * std::max({hidden, q_dim, ffn})));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.ids.Allocate(n));
  TESSERA_RETURN_IF_CUDA_ERROR(scratch_.positions.Allocate(n));
  scratch_.tokens = n;
  return absl::OkStatus();
}

absl::Status CudaTransformer::Linear(const float* x, const Tensor& w, int64_t n, float* y) const {
  if (w.dtype == DType::kF32) {
    TESSERA_RETURN_IF_CUBLAS_ERROR(
        cuda::Matmul(cublas_, x, w.data, w.dtype, n, w.rows(), w.cols(), y, stream_));
    return absl::OkStatus();
  }
  if (n == 1) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::Gemv(w.data, w.dtype, x, w.rows(), w.cols(), y, stream_));
    return absl::OkStatus();
  }
  TESSERA_RETURN_IF_CUDA_ERROR(
      cuda::ConvertFromFloat(x, n * w.cols(), w.dtype, scratch_.x16.data(), stream_));
  TESSERA_RETURN_IF_CUBLAS_ERROR(
      cuda::Matmul(cublas_, scratch_.x16.data(), w.data, w.dtype, n, w.rows(), w.cols(), y, stream_));
  return absl::OkStatus();
}

absl::Status CudaTransformer::AttentionLayer(int l, int64_t n, int64_t start,
                                             KvCache& cache) const {
  const DeviceLayer& layer = layers_[l];
  const AttentionConfig& c = layer.config;
  const int64_t kv_dim = int64_t{c.num_kv_heads} * c.head_dim;
  float* q = scratch_.q.data();                       // [n, num_heads, head_dim]
  float* k = cache.keys(l) + start * kv_dim;          // [n, num_kv_heads, head_dim]
  float* v = cache.values(l) + start * kv_dim;        // [n, num_kv_heads, head_dim]
  const float* x = scratch_.norm.data();
  TESSERA_RETURN_IF_ERROR(Linear(x, layer.q, n, q));
  TESSERA_RETURN_IF_ERROR(Linear(x, layer.k, n, k));
  TESSERA_RETURN_IF_ERROR(Linear(x, layer.v, n, v));
  if (layer.q_bias) TESSERA_RETURN_IF_CUDA_ERROR(cuda::AddBias(q, layer.q_bias->data, layer.q_bias->dtype, n, layer.q.rows(), stream_));
  if (layer.k_bias) TESSERA_RETURN_IF_CUDA_ERROR(cuda::AddBias(k, layer.k_bias->data, layer.k_bias->dtype, n, kv_dim, stream_));
  if (layer.v_bias) TESSERA_RETURN_IF_CUDA_ERROR(cuda::AddBias(v, layer.v_bias->data, layer.v_bias->dtype, n, kv_dim, stream_));
  if (layer.q_norm) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::RmsNorm(q, layer.q_norm->data, layer.q_norm->dtype, c.norm_eps,
                                               n * c.num_heads, c.head_dim, q, stream_));
  }
  if (layer.k_norm) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::RmsNorm(k, layer.k_norm->data, layer.k_norm->dtype, c.norm_eps,
                                               n * c.num_kv_heads, c.head_dim, k, stream_));
  }
  const RopeConfig& rope = c.rope;
  const float* inv_freq =
      UsesLongFrequencies(rope, start, n) ? long_inv_freq_.data() : inv_freq_.data();
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::Rope(q, scratch_.positions.data(), n, c.num_heads, c.head_dim,
                                          rope.rotary_dim, inv_freq, rope.style,
                                          rope.attention_factor, stream_));
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::Rope(k, scratch_.positions.data(), n, c.num_kv_heads, c.head_dim,
                                          rope.rotary_dim, inv_freq, rope.style,
                                          rope.attention_factor, stream_));
  const cpu::AttentionShape shape = KernelShape(c);
  if (n == 1) {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::AttentionDecode(
        q, cache.keys(l), cache.values(l), start + 1, shape, decode_workspace_.data(),
        decode_workspace_.size(), scratch_.attended.data(), stream_));
  } else {
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::AttentionPrefill(q, cache.keys(l), cache.values(l), n, start,
                                                        shape, scratch_.attended.data(), stream_));
  }
  return Linear(scratch_.attended.data(), layer.o, n, scratch_.block.data());
}

absl::Status CudaTransformer::FeedForwardLayer(int l, int64_t n) const {
  const DeviceLayer& layer = layers_[l];
  TESSERA_RETURN_IF_ERROR(Linear(scratch_.norm.data(), layer.gate, n, scratch_.gate.data()));
  TESSERA_RETURN_IF_ERROR(Linear(scratch_.norm.data(), layer.up, n, scratch_.up.data()));
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::SwiGlu(scratch_.gate.data(), scratch_.up.data(),
                                            n * layer.gate.rows(), scratch_.gate.data(), stream_));
  return Linear(scratch_.gate.data(), layer.down, n, scratch_.block.data());
}

absl::Status CudaTransformer::Forward(std::span<const int32_t> tokens, KvCache& cache,
                                      std::span<float> logits) const {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t hidden = info_.hidden_size;
  TESSERA_RETURN_IF_ERROR(CheckForwardArguments(info_, n, cache, logits.size()));
  if (auto sequence = TokensToReencode(rope_switch_position_, tokens, cache)) {
    return Forward(*sequence, cache, logits);
  }
  const int64_t start = cache.length();
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
  TESSERA_RETURN_IF_ERROR(EnsureScratch(n));
  std::vector<int32_t> positions(n);
  std::iota(positions.begin(), positions.end(), static_cast<int32_t>(start));
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(scratch_.ids.data(), tokens.data(), n * sizeof(int32_t),
                                               cudaMemcpyHostToDevice, stream_));
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(scratch_.positions.data(), positions.data(),
                                               n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));

  const float eps = rms_norm_eps_;
  float* x = scratch_.x.data();        // [n, hidden] the residual stream
  float* norm = scratch_.norm.data();  // [n, hidden]
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::EmbeddingGather(token_embd_.data, token_embd_.dtype,
                                                     info_.vocab_size, hidden, scratch_.ids.data(),
                                                     n, x, stream_));
  const Tensor& first_norm = layers_.front().attn_norm;
  TESSERA_RETURN_IF_CUDA_ERROR(cuda::RmsNorm(x, first_norm.data, first_norm.dtype, eps, n, hidden, norm, stream_));
  for (int l = 0; l < static_cast<int>(layers_.size()); ++l) {
    // x += attention(norm); norm = rms_norm(x)
    TESSERA_RETURN_IF_ERROR(AttentionLayer(l, n, start, cache));
    const Tensor& ffn_norm = layers_[l].ffn_norm;
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::AddRmsNorm(x, scratch_.block.data(), ffn_norm.data, ffn_norm.dtype,
                                                  eps, n, hidden, norm, stream_));
    // x += feed_forward(norm); norm = the next layer's (or the final) rms_norm(x)
    TESSERA_RETURN_IF_ERROR(FeedForwardLayer(l, n));
    const Tensor& next_norm = l + 1 < static_cast<int>(layers_.size()) ? layers_[l + 1].attn_norm : output_norm_;
    TESSERA_RETURN_IF_CUDA_ERROR(cuda::AddRmsNorm(x, scratch_.block.data(), next_norm.data, next_norm.dtype,
                                                  eps, n, hidden, norm, stream_));
  }
  // Logits of the last token only: that is all sampling needs.
  TESSERA_RETURN_IF_ERROR(Linear(norm + (n - 1) * hidden, output_, 1, logits_.data()));
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(logits.data(), logits_.data(), logits.size_bytes(),
                                               cudaMemcpyDeviceToHost, stream_));
  TESSERA_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
  cache.Extend(tokens);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Model>> CudaTransformer::Create(const Transformer& host, int device,
                                                               const UploadProgress& progress) {
  const TransformerWeights& w = host.weights();
  std::unique_ptr<CudaTransformer> model(new CudaTransformer(host, device));
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
  std::vector<Tensor*> weights = {&model->token_embd_, &model->output_norm_, &model->output_};
  for (DeviceLayer& layer : model->layers_) {
    for (Tensor* t : {&layer.attn_norm, &layer.ffn_norm, &layer.q, &layer.k, &layer.v, &layer.o,
                      &layer.gate, &layer.up, &layer.down}) {
      weights.push_back(t);
    }
    for (std::optional<Tensor>* t :
         {&layer.q_bias, &layer.k_bias, &layer.v_bias, &layer.q_norm, &layer.k_norm}) {
      if (t->has_value()) weights.push_back(&**t);
    }
  }
  // Sized before anything is uploaded; a tensor used twice (tied embeddings) counts once.
  int64_t total = 0;
  absl::flat_hash_set<const void*> counted;
  for (const Tensor* t : weights) {
    if (counted.insert(t->data).second) total += static_cast<int64_t>(t->bytes());
  }
  TESSERA_RETURN_IF_ERROR(cuda::CheckFreeMemory(device, total, "the model's weights"));

  TESSERA_RETURN_IF_CUDA_ERROR(cudaStreamCreateWithFlags(&model->stream_, cudaStreamNonBlocking));
  TESSERA_RETURN_IF_CUBLAS_ERROR(cublasCreate(&model->cublas_));
  TESSERA_RETURN_IF_CUBLAS_ERROR(cublasSetStream(model->cublas_, model->stream_));
  for (Tensor* t : weights) {
    TESSERA_ASSIGN_OR_RETURN(*t, model->weights_.Upload(*t));
    progress(model->weights_.bytes(), total);
  }

  const Attention& first = w.layers.front().attention;
  const AttentionConfig& config = first.config();
  TESSERA_RETURN_IF_CUDA_ERROR(model->inv_freq_.Upload(first.InverseFrequencies(0, 1)));
  if (!config.rope.long_frequency_factors.empty()) {
    TESSERA_RETURN_IF_CUDA_ERROR(model->long_inv_freq_.Upload(
        first.InverseFrequencies(0, config.rope.original_context + 1)));
  }
  TESSERA_RETURN_IF_CUDA_ERROR(model->logits_.Allocate(model->info_.vocab_size));
  const cpu::AttentionShape shape = KernelShape(config);
  TESSERA_RETURN_IF_CUDA_ERROR(model->decode_workspace_.Allocate(
      cuda::AttentionDecodeWorkspaceBytes(shape, model->info_.context_length)));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> UploadToCuda(const Model& model, int device,
                                                    const UploadProgress& progress) {
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
  return CudaTransformer::Create(*transformer, device, progress);
}

}  // namespace tessera
