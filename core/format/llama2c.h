// llama2.c files (karpathy/llama2.c): a checkpoint in the legacy version-0 export (a 7-int32
// header, then every weight in fp32) and a tokenizer (.bin: the vocabulary with scores). Both are
// read whole and checked byte for byte against their headers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::llama2c {

// The header, with the classifier flag taken out of vocab_size's sign.
struct Config {
  int32_t dim = 0;         // transformer width
  int32_t hidden_dim = 0;  // feed-forward width
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;  // always positive here
  int32_t seq_len = 0;     // the context the model was trained for
  bool shared_classifier = true;  // the header's vocab_size was positive

  int32_t head_size() const { return dim / n_heads; }
  int32_t kv_dim() const { return head_size() * n_kv_heads; }
};

// Views of the fp32 weights, in export order. The RoPE tables (freq_cis_real/imag) that follow
// rms_final are skipped: the rotation is recomputed from the head size.
struct Weights {
  std::span<const float> token_embedding;  // [vocab, dim]
  std::span<const float> rms_att;          // [layers, dim]
  std::span<const float> wq;               // [layers, dim, dim]
  std::span<const float> wk;               // [layers, kv_dim, dim]
  std::span<const float> wv;               // [layers, kv_dim, dim]
  std::span<const float> wo;               // [layers, dim, dim]
  std::span<const float> rms_ffn;          // [layers, dim]
  std::span<const float> w1;               // [layers, hidden, dim]
  std::span<const float> w2;               // [layers, dim, hidden]
  std::span<const float> w3;               // [layers, hidden, dim]
  std::span<const float> rms_final;        // [dim]
  std::span<const float> wcls;             // [vocab, dim]; token_embedding when shared
};

// Layer `layer` of a weight stacked over `n_layers` layers.
inline std::span<const float> LayerSlice(std::span<const float> stacked, int layer,
                                         int n_layers) {
  const size_t per_layer = stacked.size() / n_layers;
  return stacked.subspan(layer * per_layer, per_layer);
}

class Checkpoint {
 public:
  // Errors: NOT_FOUND (MODEL_FILE_NOT_FOUND); INVALID_ARGUMENT (INVALID_MODEL_FILE) for a header
  // that describes no valid model or a size that differs from what the header describes.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Read(const std::string& path);

  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const Config& config() const { return config_; }
  const Weights& weights() const { return weights_; }

 private:
  Checkpoint() = default;

  Config config_;
  std::vector<float> floats_;  // everything after the header
  Weights weights_;            // views into floats_
};

// A llama2.c tokenizer file: the pieces as llama2.c stores them (SentencePiece's "▁" written
// as a space, BOS and EOS as "\n<s>\n" and "\n</s>\n") and their merge scores.
struct Vocabulary {
  uint32_t max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

// Reads exactly `vocab_size` tokens (the file does not store the count; the checkpoint does).
// Errors as for Checkpoint::Read.
absl::StatusOr<Vocabulary> ReadVocabulary(const std::string& path, int32_t vocab_size);

}  // namespace tessera::llama2c
