// Random-weight models of real shapes, assembled in memory as GGUF: every dimension of a
// published model (from its config.json), bf16 weights, nothing read from disk. For measuring
// speed, where the values do not matter but their sizes, and the work they cause, do.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "core/models/transformer_hf.h"

namespace tessera::bench {

struct ModelShape {
  std::string name;          // as --shape names it, e.g. "llama-3-8b"
  std::string source;        // the config.json its numbers come from
  std::string architecture;  // general.architecture: the family that builds it
  HfTransformerConfig config;
};

// The seed of the benchmarks' random weights, so that every program measures the same model.
inline constexpr uint64_t kRandomModelSeed = 20240418;

const std::vector<ModelShape>& ModelShapes();
// nullptr when no shape has that name.
const ModelShape* FindModelShape(std::string_view name);

// A GGUF model of `shape` with its first `layers` layers (all of them when `layers` is 0), holding
// the memory of its tensors: matrices in bf16 with mean 0 and standard deviation 0.02, biases
// likewise and norm weights 1 +- 0.02 but stored in f32 as llama.cpp's converter stores them, rope
// tables as the family's converter computes them. The same `seed` gives the same weights.
absl::StatusOr<std::unique_ptr<gguf::GgufFile>> BuildRandomModel(const ModelShape& shape,
                                                                 int layers, uint64_t seed);

// The same model written to a .gguf file at `path`, with a filler vocabulary of the shape's size
// (byte tokens and placeholder pieces) so that a server can load it and take token-id prompts.
absl::Status WriteServableRandomModel(const ModelShape& shape, int layers, uint64_t seed,
                                      const std::string& path);

// `n` token ids drawn uniformly from [0, vocab_size).
std::vector<int32_t> RandomTokens(int64_t n, int32_t vocab_size, std::mt19937& rng);

}  // namespace tessera::bench
