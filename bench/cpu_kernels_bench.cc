// CPU matmul speed at decode shapes (m = 1), where every weight byte is read once per token and
// memory bandwidth sets the limit. The same run measures a parallel memcpy of buffers the size of
// the 4096x4096 F16 and F32 weights, so the matmul's "read_bytes/s" can be read against what the
// machine streams.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/ops.h"
#include "kernels/tensor.h"

namespace tessera::cpu {
namespace {

// Weight storage with a trained layer's value spread (normal, std 0.02), so that the mix of
// values the conversion sees, fp16 subnormals included, is realistic.
std::vector<uint8_t> RandomWeightBytes(DType dtype, int64_t numel) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<uint8_t> bytes(static_cast<size_t>(numel) * DTypeSize(dtype));
  for (int64_t i = 0; i < numel; ++i) {
    const float value = normal(rng);
    if (dtype == DType::kF32) {
      std::memcpy(bytes.data() + i * 4, &value, 4);
    } else {
      const uint16_t half = dtype == DType::kF16 ? FloatToHalf(value) : FloatToBFloat16(value);
      std::memcpy(bytes.data() + i * 2, &half, 2);
    }
  }
  return bytes;
}

// Args: m, n, k.
template <DType dtype>
void BM_Matmul(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const std::vector<uint8_t> weight_bytes = RandomWeightBytes(dtype, n * k);
  const Tensor w(weight_bytes.data(), dtype, {n, k});      // [n, k]
  std::vector<float> x(static_cast<size_t>(m * k), 0.5f);  // [m, k]
  std::vector<float> y(static_cast<size_t>(m * n));        // [m, n]
  for (auto _ : state) {
    Matmul(x.data(), w, m, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["read_bytes/s"] = benchmark::Counter(
      static_cast<double>(weight_bytes.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = ThreadCount();
}

// The bandwidth baseline: every thread copies its share, like the matmul's split over rows.
// read_bytes/s counts each copied byte once; the copy also writes it. Arg: bytes.
void BM_MemcpyBaseline(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  const int64_t chunk = int64_t{1} << 20;
  std::vector<uint8_t> source(static_cast<size_t>(bytes), 1);
  std::vector<uint8_t> destination(static_cast<size_t>(bytes));
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int64_t offset = 0; offset < bytes; offset += chunk) {
      std::memcpy(destination.data() + offset, source.data() + offset,
                  static_cast<size_t>(std::min(chunk, bytes - offset)));
    }
    benchmark::DoNotOptimize(destination.data());
    benchmark::ClobberMemory();
  }
  state.counters["read_bytes/s"] = benchmark::Counter(
      static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = ThreadCount();
}

// Decode shapes of a 7B Llama: attention projections and the feed-forward up and down.
// The kernels run on OpenMP threads, so wall-clock time is the one that counts.
void DecodeShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "n", "k"})->UseRealTime();
  b->Args({1, 4096, 4096})->Args({1, 11008, 4096})->Args({1, 4096, 11008});
}

BENCHMARK(BM_MemcpyBaseline)->ArgName("bytes")->Arg(int64_t{32} << 20)->Arg(int64_t{64} << 20)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Matmul, DType::kF32)->Apply(DecodeShapes);
BENCHMARK_TEMPLATE(BM_Matmul, DType::kF16)->Apply(DecodeShapes);
BENCHMARK_TEMPLATE(BM_Matmul, DType::kBF16)->Apply(DecodeShapes);

}  // namespace
}  // namespace tessera::cpu

BENCHMARK_MAIN();
