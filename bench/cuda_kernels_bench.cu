// Bandwidth of the CUDA backend's memory-bound kernels on the decode path, against the ceiling a
// plain device-to-device copy reaches on the same GPU:
//   copy:      bytes read + written per second (the baseline);
//   GEMV:      weight bytes read per second, Tessera's kernel and cuBLAS (a GEMM with m = 1), at
//              Llama-3-8B's projection shapes with bf16 weights;
//   attention: KV-cache bytes read per second for one decode token (32 query heads, 8 kv heads,
//              head_dim 128, and qwen2.5-0.5b's 14 and 2 of head_dim 64; fp32 and bf16 caches);
//              with a sliding window, the window's bytes only.
// And the token choice over Qwen2's vocabulary, greedy and each kind of draw, with flat and with
// peaked logits, each as the server makes it (chosen and brought back), against the path without
// it: the logits copied back and chosen on the host (cpu::ChooseToken).
// And the rate of the compute-bound prefill attention (same heads, causal, fp32 queries; the fp32
// kernel on an fp32 cache, the tensor-core kernel on an fp32 and on a bf16 cache), in TFLOP/s
// against the H100's dense bf16 tensor-core peak and its fp32 CUDA-core peak; with a sliding
// window, of the work inside the window. Beside it, a 2048-token prompt's cuBLAS products.
// Inputs hold random values and rotate among copies totalling well over the L2 cache, so the
// figures are DRAM bandwidth. Each figure is the median of several timed batches of launches
// (of the decode attention, batches captured in a CUDA graph and replayed, as the decode step runs
// it).
//
//   tessera_cuda_kernels_bench [--json=PATH] [--only=gemv|gemm|attention|token]
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/attention_prefill_tensor_core.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/token_choice.h"
#include "kernels/kv_blocks.h"

namespace tessera::cuda {
namespace {

#define BENCH_CHECK(expr)                                                         \
  do {                                                                            \
    const auto bench_status = (expr);                                             \
    if (bench_status != decltype(bench_status){}) {                               \
      std::fprintf(stderr, "%s:%d: %s failed (%d)\n", __FILE__, __LINE__, #expr, \
                   static_cast<int>(bench_status));                               \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)

constexpr size_t kRotationBytes = size_t{512} << 20;  // ten times the H100's 50 MB L2
constexpr double kH100Bf16PeakFlops = 989e12;  // dense, tensor cores
constexpr double kH100Fp32PeakFlops = 67e12;   // CUDA cores

// Uniform values in [-1, 1) from a hash of the index: random data without a host round trip.
__global__ void FillRandomKernel(float* out, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    out[i] = static_cast<float>(h >> 8) / 8388608.0f - 1.0f;
  }
}

__global__ void CopyKernel(const float4* in, float4* out, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    out[i] = in[i];
  }
}

DeviceBuffer<float> RandomFloats(size_t n, uint32_t seed) {
  DeviceBuffer<float> buffer;
  BENCH_CHECK(buffer.Allocate(n));
  FillRandomKernel<<<1024, 256>>>(buffer.data(), n, seed);
  BENCH_CHECK(cudaGetLastError());
  return buffer;
}

DeviceBuffer<__nv_bfloat16> RandomBf16(size_t n, uint32_t seed) {
  DeviceBuffer<float> floats = RandomFloats(n, seed);
  DeviceBuffer<__nv_bfloat16> buffer;
  BENCH_CHECK(buffer.Allocate(n));
  BENCH_CHECK(ConvertFromFloat(floats.data(), static_cast<int64_t>(n), DType::kBF16,
                               buffer.data(), nullptr));
  BENCH_CHECK(cudaDeviceSynchronize());
  return buffer;
}

// Blocks 0, 1, ..., n_blocks - 1: a contiguous cache as a paged one (kernels/kv_blocks.h).
DeviceBuffer<int32_t> InOrderBlockTable(int64_t n_blocks) {
  std::vector<int32_t> table(n_blocks);
  std::iota(table.begin(), table.end(), 0);
  DeviceBuffer<int32_t> buffer;
  BENCH_CHECK(buffer.Upload(table));
  return buffer;
}

// Copies of an input that together exceed the L2 cache.
int CopiesToRotate(size_t bytes_per_copy) {
  return static_cast<int>(std::max<size_t>(1, kRotationBytes / bytes_per_copy + 1));
}

// Median seconds per call of launch(i), i cycling over the rotation; batches of launches between
// two events recorded on `stream`, after a warm-up batch.
double MedianSeconds(const std::function<void(int)>& launch, int n_copies,
                     cudaStream_t stream = nullptr) {
  constexpr int kBatches = 9;
  const int per_batch = std::max(20, 2 * n_copies);
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  std::vector<double> seconds;
  for (int batch = -1; batch < kBatches; ++batch) {
    BENCH_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < per_batch; ++i) launch(i % n_copies);
    BENCH_CHECK(cudaEventRecord(stop, stream));
    BENCH_CHECK(cudaEventSynchronize(stop));
    BENCH_CHECK(cudaGetLastError());
    float ms = 0;
    BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (batch >= 0) seconds.push_back(ms * 1e-3 / per_batch);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(seconds.begin(), seconds.end());
  return seconds[kBatches / 2];
}

// MedianSeconds of launches captured in a CUDA graph and replayed, as the decode step runs them:
// the GPU's time per call, where launching them one by one would time the host's launch rate
// (some 13 us a call for the decode attention's two short kernels). launch(i, stream) enqueues
// call i on `stream`.
double GraphMedianSeconds(const std::function<void(int, cudaStream_t)>& launch, int n_copies) {
  cudaStream_t stream = nullptr;
  BENCH_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph = nullptr;
  BENCH_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const int per_graph = std::max(20, 2 * n_copies);
  for (int i = 0; i < per_graph; ++i) launch(i % n_copies, stream);
  BENCH_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  BENCH_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  const double seconds =
      MedianSeconds([&](int) { BENCH_CHECK(cudaGraphLaunch(exec, stream)); }, 1, stream);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  return seconds / per_graph;
}

struct Row {
  std::string name;
  std::string shape;
  double bytes;
  double seconds;
};

double CopyBandwidth(std::vector<Row>& rows) {
  const size_t n_floats = size_t{1} << 28;  // 1 GiB each way
  DeviceBuffer<float> in = RandomFloats(n_floats, 1);
  DeviceBuffer<float> out;
  BENCH_CHECK(out.Allocate(n_floats));
  const size_t n_vectors = n_floats / 4;
  const double seconds = MedianSeconds(
      [&](int) {
        CopyKernel<<<132 * 16, 256>>>(reinterpret_cast<const float4*>(in.data()),
                                      reinterpret_cast<float4*>(out.data()), n_vectors);
      },
      1);
  const double bytes = 2.0 * n_floats * sizeof(float);
  rows.push_back({"copy (read+write)", "1 GiB", bytes, seconds});
  return bytes / seconds;
}

// A weight matrix of Llama-3-8B: n rows of k.
struct MatrixShape {
  int64_t n, k;
  const char* name;
};

void BenchGemv(std::vector<Row>& rows, cublasHandle_t handle) {
  const MatrixShape shapes[] = {{4096, 4096, "q/o proj"},
                                {1024, 4096, "k/v proj"},
                                {14336, 4096, "gate/up proj"},
                                {4096, 14336, "down proj"},
                                {128256, 4096, "lm head"}};
  for (const MatrixShape& s : shapes) {
    const size_t weight_bytes = static_cast<size_t>(s.n * s.k) * 2;
    const int n_copies = CopiesToRotate(weight_bytes);
    std::vector<DeviceBuffer<__nv_bfloat16>> weights;
    for (int i = 0; i < n_copies; ++i) weights.push_back(RandomBf16(s.n * s.k, 100 + i));
    DeviceBuffer<float> x = RandomFloats(s.k, 2);
    DeviceBuffer<__nv_bfloat16> x_bf16 = RandomBf16(s.k, 3);
    DeviceBuffer<float> y;
    BENCH_CHECK(y.Allocate(s.n));
    const std::string shape = std::to_string(s.n) + "x" + std::to_string(s.k) + " " + s.name;
    rows.push_back({"gemv tessera", shape, static_cast<double>(weight_bytes),
                    MedianSeconds(
                        [&](int i) {
                          BENCH_CHECK(Gemv(weights[i].data(), DType::kBF16, x.data(), s.n, s.k,
                                           y.data(), nullptr));
                        },
                        n_copies)});
    rows.push_back({"gemv cublas (m=1 gemm)", shape, static_cast<double>(weight_bytes),
                    MedianSeconds(
                        [&](int i) {
                          BENCH_CHECK(Matmul(handle, x_bf16.data(), weights[i].data(), DType::kBF16,
                                             1, s.n, s.k, y.data(), /*add_to_y=*/false, nullptr));
                        },
                        n_copies)});
  }
}

// The fastest of the algorithms cuBLASLt's heuristic offers for y = x w^T (the layout Matmul
// gives cuBLAS: w transposed, column-major), each timed as MedianSeconds times it: whether tuning
// per shape would beat the default algorithm that cublasGemmEx picks.
double FastestLtSeconds(cublasLtHandle_t lt, const void* x, const std::vector<const void*>& w,
                        float* y, int64_t m, int64_t n, int64_t k, void* workspace,
                        size_t workspace_bytes) {
  cublasLtMatmulDesc_t op;
  BENCH_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t transpose = CUBLAS_OP_T;
  BENCH_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                             sizeof(transpose)));
  cublasLtMatrixLayout_t w_layout, x_layout, y_layout;
  BENCH_CHECK(cublasLtMatrixLayoutCreate(&w_layout, CUDA_R_16BF, k, n, k));
  BENCH_CHECK(cublasLtMatrixLayoutCreate(&x_layout, CUDA_R_16BF, k, m, k));
  BENCH_CHECK(cublasLtMatrixLayoutCreate(&y_layout, CUDA_R_32F, n, m, n));
  cublasLtMatmulPreference_t preference;
  BENCH_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  BENCH_CHECK(cublasLtMatmulPreferenceSetAttribute(preference,
                                                   CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                   &workspace_bytes, sizeof(workspace_bytes)));
  constexpr int kMaxAlgorithms = 16;
  cublasLtMatmulHeuristicResult_t offered[kMaxAlgorithms];
  int n_offered = 0;
  BENCH_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, op, w_layout, x_layout, y_layout, y_layout,
                                             preference, kMaxAlgorithms, offered, &n_offered));
  const float alpha = 1.0f, beta = 0.0f;
  double fastest = std::numeric_limits<double>::infinity();
  for (int a = 0; a < n_offered; ++a) {
    fastest = std::min(
        fastest, MedianSeconds(
                     [&](int i) {
                       BENCH_CHECK(cublasLtMatmul(lt, op, &alpha, w[i], w_layout, x, x_layout,
                                                  &beta, y, y_layout, y, y_layout, &offered[a].algo,
                                                  workspace, workspace_bytes, nullptr));
                     },
                     static_cast<int>(w.size())));
  }
  cublasLtMatmulPreferenceDestroy(preference);
  cublasLtMatrixLayoutDestroy(y_layout);
  cublasLtMatrixLayoutDestroy(x_layout);
  cublasLtMatrixLayoutDestroy(w_layout);
  cublasLtMatmulDescDestroy(op);
  return fastest;
}

// The GEMMs of a batched decode step (continuous batching) at Llama-3-8B's shapes: M rows of
// bf16 activations against the bf16 weights, fp32 out, through cuBLAS as CudaTransformer::Linear
// calls it, and the fastest algorithm cuBLASLt offers. The weights dominate the bytes, so GB/s
// counts them alone: a GEMM as fast as the GEMV at M = 1 costs the batch nothing. q, k and v are
// one product (6144 rows), as the batched pass runs them where the three lie back to back.
void BenchSkinnyGemm(std::vector<Row>& rows, cublasHandle_t handle) {
  cublasLtHandle_t lt;
  BENCH_CHECK(cublasLtCreate(&lt));
  constexpr size_t kWorkspaceBytes = size_t{32} << 20;
  DeviceBuffer<uint8_t> workspace;
  BENCH_CHECK(workspace.Allocate(kWorkspaceBytes));
  const MatrixShape shapes[] = {{4096, 4096, "q/o proj"},
                                {6144, 4096, "q/k/v proj"},
                                {14336, 4096, "gate/up proj"},
                                {4096, 14336, "down proj"}};
  for (const MatrixShape& s : shapes) {
    const size_t weight_bytes = static_cast<size_t>(s.n * s.k) * 2;
    const int n_copies = CopiesToRotate(weight_bytes);
    std::vector<DeviceBuffer<__nv_bfloat16>> weights;
    for (int i = 0; i < n_copies; ++i) weights.push_back(RandomBf16(s.n * s.k, 900 + i));
    for (const int64_t m : {8, 32, 64, 128}) {
      DeviceBuffer<__nv_bfloat16> x = RandomBf16(m * s.k, 7);
      DeviceBuffer<float> y;
      BENCH_CHECK(y.Allocate(m * s.n));
      const std::string shape = "m=" + std::to_string(m) + " " + std::to_string(s.n) + "x" +
                                std::to_string(s.k) + " " + s.name;
      rows.push_back({"gemm cublas", shape, static_cast<double>(weight_bytes),
                      MedianSeconds(
                          [&](int i) {
                            BENCH_CHECK(Matmul(handle, x.data(), weights[i].data(), DType::kBF16, m,
                                               s.n, s.k, y.data(), /*add_to_y=*/false, nullptr));
                          },
                          n_copies)});
      std::vector<const void*> rotation;
      for (const auto& w : weights) rotation.push_back(w.data());
      rows.push_back({"gemm cublasLt fastest offered", shape, static_cast<double>(weight_bytes),
                      FastestLtSeconds(lt, x.data(), rotation, y.data(), m, s.n, s.k,
                                       workspace.data(), kWorkspaceBytes)});
    }
  }
  cublasLtDestroy(lt);
}

// The decode step's fused forms at Llama-3-8B's shape: q, k and v in one launch (against the
// three separate rows above), and gate and up with SwiGLU.
void BenchFusedGemv(std::vector<Row>& rows) {
  constexpr int64_t kHidden = 4096, kKv = 1024, kFfn = 14336;
  const size_t qkv_bytes = static_cast<size_t>((kHidden + 2 * kKv) * kHidden) * 2;
  const int qkv_copies = CopiesToRotate(qkv_bytes);
  std::vector<DeviceBuffer<__nv_bfloat16>> q, k, v;
  for (int i = 0; i < qkv_copies; ++i) {
    q.push_back(RandomBf16(kHidden * kHidden, 400 + i));
    k.push_back(RandomBf16(kKv * kHidden, 500 + i));
    v.push_back(RandomBf16(kKv * kHidden, 600 + i));
  }
  DeviceBuffer<float> x = RandomFloats(kHidden, 5);
  DeviceBuffer<float> y;
  BENCH_CHECK(y.Allocate(kFfn));
  rows.push_back({"gemv fused q+k+v", "(4096+1024+1024)x4096", static_cast<double>(qkv_bytes),
                  MedianSeconds(
                      [&](int i) {
                        const GemvMatrix matrices[] = {
                            {q[i].data(), kHidden, y.data()},
                            {k[i].data(), kKv, y.data() + kHidden},
                            {v[i].data(), kKv, y.data() + kHidden + kKv}};
                        BENCH_CHECK(
                            GemvFused(matrices, DType::kBF16, x.data(), kHidden, {}, nullptr));
                      },
                      qkv_copies)});
  const size_t gate_up_bytes = static_cast<size_t>(2 * kFfn * kHidden) * 2;
  const int gate_up_copies = CopiesToRotate(gate_up_bytes);
  std::vector<DeviceBuffer<__nv_bfloat16>> gate, up;
  for (int i = 0; i < gate_up_copies; ++i) {
    gate.push_back(RandomBf16(kFfn * kHidden, 700 + i));
    up.push_back(RandomBf16(kFfn * kHidden, 800 + i));
  }
  rows.push_back({"gemv swiglu gate+up", "2x14336x4096", static_cast<double>(gate_up_bytes),
                  MedianSeconds(
                      [&](int i) {
                        BENCH_CHECK(GemvSwiGlu(gate[i].data(), up[i].data(), DType::kBF16, x.data(),
                                               kFfn, kHidden, {}, y.data(), nullptr));
                      },
                      gate_up_copies)});
}

struct AttentionCase {
  int64_t length;  // context (decode) or tokens (prefill)
  int64_t sliding_window;
};

std::string WithWindow(const std::string& shape, int64_t sliding_window) {
  return sliding_window > 0 ? shape + ", window " + std::to_string(sliding_window) : shape;
}

struct DecodeShape {
  const char* name;
  AttentionShape shape;
};

// Llama-3-8B's heads (groups of 4, head_dim 128) and qwen2.5-0.5b's (groups of 7, head_dim 64).
// The last Llama case reads a long context through a sliding window: it should cost what the
// window costs, and its bytes count only the window's positions. Each case with an fp32 and a bf16
// cache.
void BenchAttentionDecode(std::vector<Row>& rows) {
  const DecodeShape llama{"", {32, 8, 128, 0.08838834764831845f, 0}};
  const DecodeShape qwen{"qwen2.5-0.5b, ", {14, 2, 64, 0.125f, 0}};
  for (const DType cache_dtype : {DType::kF32, DType::kBF16}) {
    for (const auto& [heads, c] :
         {std::pair{llama, AttentionCase{128, 0}}, std::pair{llama, AttentionCase{2048, 0}},
          std::pair{llama, AttentionCase{8192, 0}}, std::pair{llama, AttentionCase{8192, 1024}},
          std::pair{qwen, AttentionCase{128, 0}}, std::pair{qwen, AttentionCase{8192, 0}}}) {
      AttentionShape shape = heads.shape;
      shape.sliding_window = c.sliding_window;
      const int64_t context = c.length;
      const int64_t visible = c.sliding_window > 0 ? std::min(context, c.sliding_window) : context;
      // Every copy's pools hold the context in order, one block table for all of them.
      const int64_t n_blocks = KvBlocksFor(context);
      const size_t cache_values =
          static_cast<size_t>(n_blocks * kKvBlockTokens) * shape.n_kv_heads * shape.head_dim;
      DeviceBuffer<int32_t> block_table = InOrderBlockTable(n_blocks);
      const size_t value_bytes = cache_dtype == DType::kF32 ? 4 : 2;
      const double kv_bytes = 2.0 * visible * shape.n_kv_heads * shape.head_dim * value_bytes;
      const int n_copies = CopiesToRotate(static_cast<size_t>(kv_bytes));
      std::vector<DeviceBuffer<float>> f32_caches;
      std::vector<DeviceBuffer<__nv_bfloat16>> bf16_caches;
      std::vector<KvCacheView> host_views;
      for (int i = 0; i < n_copies; ++i) {
        if (cache_dtype == DType::kF32) {
          f32_caches.push_back(RandomFloats(cache_values, 200 + i));
          f32_caches.push_back(RandomFloats(cache_values, 300 + i));
          host_views.push_back({f32_caches[2 * i].data(), f32_caches[2 * i + 1].data(),
                                block_table.data(), context});
        } else {
          bf16_caches.push_back(RandomBf16(cache_values, 200 + i));
          bf16_caches.push_back(RandomBf16(cache_values, 300 + i));
          host_views.push_back({bf16_caches[2 * i].data(), bf16_caches[2 * i + 1].data(),
                                block_table.data(), context});
        }
      }
      DeviceBuffer<float> q = RandomFloats(shape.n_heads * shape.head_dim, 4);
      DeviceBuffer<float> out;
      BENCH_CHECK(out.Allocate(shape.n_heads * shape.head_dim));
      DeviceBuffer<KvCacheView> views;
      BENCH_CHECK(views.Upload(host_views));
      // Launched for the longest context the model allows, as the captured decode step is.
      constexpr int64_t kMaxContext = 8192;
      DeviceBuffer<char> workspace;
      BENCH_CHECK(workspace.Allocate(AttentionDecodeWorkspaceBytes(shape, kMaxContext)));
      const std::string kind =
          cache_dtype == DType::kF32 ? "attention decode" : "attention decode, bf16 cache";
      rows.push_back(
          {kind, WithWindow(heads.name + ("context " + std::to_string(context)), c.sliding_window),
           kv_bytes,
           GraphMedianSeconds(
               [&](int i, cudaStream_t stream) {
                 BENCH_CHECK(AttentionDecode(q.data(), views.data() + i, cache_dtype, kMaxContext,
                                             shape, workspace.data(), workspace.bytes(), out.data(),
                                             stream));
               },
               n_copies)});
    }
  }
}

__global__ void CubeKernel(float* x, int64_t n, float scale) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = scale * x[i] * x[i] * x[i];
}

struct ChoiceRow {
  std::string kind;
  double device_seconds;
  double host_seconds;  // the logits copied back and chosen by cpu::ChooseToken
};

// Median seconds of `choose` on the host clock.
double HostMedianSeconds(const std::function<void()>& choose) {
  std::vector<double> seconds;
  for (int i = -1; i < 9; ++i) {
    const auto start = std::chrono::steady_clock::now();
    choose();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (i >= 0) seconds.push_back(elapsed.count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

void BenchTokenChoice(std::vector<ChoiceRow>& rows) {
  const std::vector<std::pair<std::string, std::optional<TokenDraw>>> kinds = {
      {"greedy", std::nullopt},
      {"draw, id order", TokenDraw{.temperature = 0.8f, .u = 0.6}},
      {"draw, top-k 50", TokenDraw{.temperature = 0.8f, .top_k = 50, .u = 0.6}},
      {"draw, top-p 0.9", TokenDraw{.temperature = 0.8f, .top_p = 0.9f, .u = 0.6}},
      {"draw, k 50 p 0.9 min-p", TokenDraw{.temperature = 0.8f, .top_k = 50, .top_p = 0.9f,
                                           .min_p = 0.05f, .u = 0.6}}};
  const int64_t vocab = 151936;
  PinnedBuffer<float> host_logits;
  BENCH_CHECK(host_logits.Allocate(vocab));
  for (const bool peaked : {false, true}) {
    // Flat: uniform in [-1, 1), the slowest case for top-p, whose prefix then spans most of the
    // vocabulary. Peaked: 12 x^3, a few tokens far above the rest, as a model's usually are.
    DeviceBuffer<float> logits = RandomFloats(vocab, 9);
    if (peaked) CubeKernel<<<BlocksFor(vocab, 256), 256>>>(logits.data(), vocab, 12.0f);
    DeviceBuffer<char> workspace;
    // The counters start at zero.
    BENCH_CHECK(workspace.AllocateZeroed(TokenChoiceWorkspaceBytes(vocab), nullptr));
    DeviceBuffer<TokenChoice> choice;
    BENCH_CHECK(choice.Allocate(1));
    PinnedBuffer<TokenChoice> host_choice;
    BENCH_CHECK(host_choice.Allocate(1));
    for (const auto& [kind, draw] : kinds) {
      const TokenDraw* draw_or_null = draw ? &*draw : nullptr;
      // Each choice as the server makes it: chosen, brought back, waited for.
      const double device_seconds = HostMedianSeconds([&] {
        BENCH_CHECK(ChooseToken(logits.data(), vocab, nullptr, 0, draw_or_null, 0,
                                workspace.data(), workspace.bytes(), choice.data(), nullptr));
        BENCH_CHECK(cudaMemcpy(host_choice.data(), choice.data(), sizeof(TokenChoice),
                               cudaMemcpyDeviceToHost));
      });
      const double host_seconds = HostMedianSeconds([&] {
        BENCH_CHECK(cudaMemcpy(host_logits.data(), logits.data(), vocab * sizeof(float),
                               cudaMemcpyDeviceToHost));
        cpu::ChooseToken(host_logits.data(), vocab, nullptr, 0, draw_or_null, 0);
      });
      rows.push_back({kind + (peaked ? ", peaked" : ", flat"), device_seconds, host_seconds});
    }
  }
}

void ReportTokenChoice(const std::vector<ChoiceRow>& rows) {
  std::printf("\n%-32s %12s %12s %9s\n", "token choice, vocab 151936", "device (us)",
              "host (us)", "host/dev");
  for (const ChoiceRow& r : rows) {
    std::printf("%-32s %12.1f %12.1f %8.1fx\n", r.kind.c_str(), r.device_seconds * 1e6,
                r.host_seconds * 1e6, r.host_seconds / r.device_seconds);
  }
}

struct ComputeRow {
  std::string name;
  std::string shape;
  double flops;
  double seconds;
};

// A prompt's products at Llama-3-8B's shapes, compute-bound: Matmul's fp32 output, which the
// engine uses, against cuBLAS writing bf16 (half the output bytes), in TFLOP/s. 512 rows is the
// engine's default token budget a pass; 2048 a long prompt's pass.
void BenchPrefillGemm(std::vector<ComputeRow>& rows, cublasHandle_t handle) {
  const MatrixShape shapes[] = {
      {4096, 4096, "q/o proj"}, {14336, 4096, "gate/up proj"}, {4096, 14336, "down proj"}};
  for (const int64_t tokens : {512, 2048}) {
    for (const MatrixShape& s : shapes) {
      // Weights rotate among copies, so that they come from memory as a pass's do.
      const int n_copies = CopiesToRotate(static_cast<size_t>(s.n * s.k) * 2);
      std::vector<DeviceBuffer<__nv_bfloat16>> w;
      for (int i = 0; i < n_copies; ++i) w.push_back(RandomBf16(s.n * s.k, 11 + i));
      DeviceBuffer<__nv_bfloat16> x = RandomBf16(tokens * s.k, 12);
      DeviceBuffer<float> y;
      BENCH_CHECK(y.Allocate(tokens * s.n));
      DeviceBuffer<__nv_bfloat16> y16;
      BENCH_CHECK(y16.Allocate(tokens * s.n));
      const double flops = 2.0 * tokens * s.n * s.k;
      const std::string shape =
          "m=" + std::to_string(tokens) + " " + std::to_string(s.n) + "x" + std::to_string(s.k);
      rows.push_back({"gemm fp32 out", shape, flops,
                      MedianSeconds(
                          [&](int i) {
                            BENCH_CHECK(Matmul(handle, x.data(), w[i].data(), DType::kBF16, tokens,
                                               s.n, s.k, y.data(), /*add_to_y=*/false, nullptr));
                          },
                          n_copies)});
      rows.push_back({"gemm bf16 out", shape, flops,
                      MedianSeconds(
                          [&](int i) {
                            const float alpha = 1, beta = 0;
                            BENCH_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, s.n, tokens,
                                                     s.k, &alpha, w[i].data(), CUDA_R_16BF, s.k,
                                                     x.data(), CUDA_R_16BF, s.k, &beta, y16.data(),
                                                     CUDA_R_16BF, s.n, CUBLAS_COMPUTE_32F,
                                                     CUBLAS_GEMM_DEFAULT));
                          },
                          n_copies)});
    }
  }
}

using PrefillKernel = cudaError_t (*)(const float*, const KvCacheView*, DType, int64_t, int64_t,
                                      const AttentionShape&, void*, DType, cudaStream_t);

void BenchAttentionPrefill(std::vector<ComputeRow>& rows) {
  for (const AttentionCase c :
       {AttentionCase{512, 0}, AttentionCase{2048, 0}, AttentionCase{2048, 512}}) {
    const AttentionShape shape{32, 8, 128, 0.08838834764831845f, c.sliding_window};
    const int64_t n_tokens = c.length;
    DeviceBuffer<float> q = RandomFloats(n_tokens * shape.n_heads * shape.head_dim, 5);
    const int64_t n_blocks = KvBlocksFor(n_tokens);
    const int64_t cache_values = n_blocks * kKvBlockTokens * shape.n_kv_heads * shape.head_dim;
    DeviceBuffer<float> k_cache = RandomFloats(cache_values, 6);
    DeviceBuffer<float> v_cache = RandomFloats(cache_values, 7);
    DeviceBuffer<__nv_bfloat16> k_cache_bf16 = RandomBf16(cache_values, 6);
    DeviceBuffer<__nv_bfloat16> v_cache_bf16 = RandomBf16(cache_values, 7);
    DeviceBuffer<int32_t> block_table = InOrderBlockTable(n_blocks);
    DeviceBuffer<KvCacheView> view;
    BENCH_CHECK(view.Upload(std::vector<KvCacheView>{
        {k_cache.data(), v_cache.data(), block_table.data(), n_tokens},
        {k_cache_bf16.data(), v_cache_bf16.data(), block_table.data(), n_tokens}}));
    DeviceBuffer<float> out;
    BENCH_CHECK(out.Allocate(n_tokens * shape.n_heads * shape.head_dim));
    // Two matrix products (scores, values) of 2 flops per multiply-add over the visible query-key
    // pairs: the causal half, n^2 / 2, or with a window w <= n, n w - w (w - 1) / 2.
    const double n = static_cast<double>(n_tokens);
    const double w = static_cast<double>(c.sliding_window);
    const double visible_pairs = c.sliding_window > 0 ? n * w - w * (w - 1) / 2 : n * n / 2;
    const double flops = 4.0 * visible_pairs * shape.n_heads * shape.head_dim;
    const std::string label = WithWindow(std::to_string(n_tokens) + " tokens", c.sliding_window);
    // The fp32 cache and output of the reference-precision models, and the bf16 cache of bf16
    // models, whose o projection takes a bf16 output.
    struct Variant {
      const char* name;
      PrefillKernel kernel;
      DType cache_dtype;
      DType out_dtype;
    };
    for (const Variant& v :
         {Variant{"attention prefill", &AttentionPrefill, DType::kF32, DType::kF32},
          Variant{"attention prefill tc", &AttentionPrefillTensorCore, DType::kF32, DType::kF32},
          Variant{"attention prefill tc bf16", &AttentionPrefillTensorCore, DType::kBF16,
                  DType::kBF16}}) {
      const KvCacheView* cache = view.data() + (v.cache_dtype == DType::kF32 ? 0 : 1);
      rows.push_back({v.name, label, flops,
                      MedianSeconds(
                          [&](int) {
                            BENCH_CHECK(v.kernel(q.data(), cache, v.cache_dtype, n_tokens, 0, shape,
                                                 out.data(), v.out_dtype, nullptr));
                          },
                          1)});
    }
  }
}

void ReportCompute(const std::vector<ComputeRow>& rows) {
  std::printf("\n%-24s %-28s %10s %10s %9s %9s\n", "kernel", "shape", "time (us)", "TFLOP/s",
              "of bf16", "of fp32");
  for (const ComputeRow& r : rows) {
    const double rate = r.flops / r.seconds;
    std::printf("%-24s %-28s %10.2f %10.2f %8.1f%% %8.1f%%\n", r.name.c_str(), r.shape.c_str(),
                r.seconds * 1e6, rate * 1e-12, 100.0 * rate / kH100Bf16PeakFlops,
                100.0 * rate / kH100Fp32PeakFlops);
  }
}

void Report(const std::vector<Row>& rows, double copy_bandwidth, const char* json_path) {
  cudaDeviceProp properties;
  BENCH_CHECK(cudaGetDeviceProperties(&properties, 0));
  std::printf("GPU: %s, %d SMs\n\n", properties.name, properties.multiProcessorCount);
  std::printf("%-24s %-28s %10s %10s %9s\n", "kernel", "shape", "time (us)", "GB/s", "of copy");
  for (const Row& r : rows) {
    const double bandwidth = r.bytes / r.seconds;
    std::printf("%-24s %-28s %10.2f %10.1f %8.1f%%\n", r.name.c_str(), r.shape.c_str(),
                r.seconds * 1e6, bandwidth * 1e-9, 100.0 * bandwidth / copy_bandwidth);
  }
  if (json_path == nullptr) return;
  FILE* json = std::fopen(json_path, "w");
  if (json == nullptr) {
    std::fprintf(stderr, "cannot write %s\n", json_path);
    std::exit(1);
  }
  std::fprintf(json, "{\"gpu\": \"%s\", \"copy_bytes_per_s\": %.6e, \"results\": [\n",
               properties.name, copy_bandwidth);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(json,
                 "  {\"kernel\": \"%s\", \"shape\": \"%s\", \"bytes\": %.0f, \"seconds\": %.6e, "
                 "\"bytes_per_s\": %.6e, \"fraction_of_copy\": %.4f}%s\n",
                 r.name.c_str(), r.shape.c_str(), r.bytes, r.seconds, r.bytes / r.seconds,
                 r.bytes / r.seconds / copy_bandwidth, i + 1 < rows.size() ? "," : "");
  }
  std::fprintf(json, "]}\n");
  std::fclose(json);
}

}  // namespace
}  // namespace tessera::cuda

int main(int argc, char** argv) {
  using namespace tessera::cuda;
  const char* json_path = nullptr;
  std::string only;  // empty: every group
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--json=", 7) == 0) {
      json_path = argv[i] + 7;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      only = argv[i] + 7;
    } else {
      std::fprintf(stderr, "usage: %s [--json=PATH] [--only=gemv|gemm|attention|token]\n",
                   argv[0]);
      return 2;
    }
  }
  const auto runs = [&](const char* group) { return only.empty() || only == group; };
  cublasHandle_t handle = nullptr;
  BENCH_CHECK(cublasCreate(&handle));
  std::vector<Row> rows;
  const double copy_bandwidth = CopyBandwidth(rows);
  if (runs("gemv")) {
    BenchGemv(rows, handle);
    BenchFusedGemv(rows);
  }
  if (runs("gemm")) BenchSkinnyGemm(rows, handle);
  if (runs("attention")) BenchAttentionDecode(rows);
  std::vector<ComputeRow> compute_rows;
  if (runs("attention")) BenchAttentionPrefill(compute_rows);
  if (runs("attention")) BenchPrefillGemm(compute_rows, handle);
  Report(rows, copy_bandwidth, json_path);
  ReportCompute(compute_rows);
  if (runs("token")) {
    std::vector<ChoiceRow> choice_rows;
    BenchTokenChoice(choice_rows);
    ReportTokenChoice(choice_rows);
  }
  cublasDestroy(handle);
  return 0;
}
