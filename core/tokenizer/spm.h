// SpmTokenizer: SentencePiece-style tokenization (GGUF tokenizer model "llama": Llama 2, Phi-3,
// Mistral v0.1, TinyLlama, ...), giving the ids the Hugging Face LlamaTokenizer gives.
//
// Encode normalizes the text as the vocabulary says, escapes spaces as U+2581 "▁", puts one
// "▁" in front of non-empty text (when add_space_prefix), splits it into UTF-8 characters and
// then repeatedly merges the adjacent pair whose concatenation is the vocabulary piece with the
// highest score (the leftmost pair on ties). Only normal and user-defined pieces can be formed
// this way. A character no piece covers becomes byte-fallback tokens "<0xNN>", one per byte,
// or, when the vocabulary has no byte tokens, one unknown token.
//
// TokenBytes follows llama.cpp with special tokens hidden: "▁" in normal pieces becomes a space,
// user-defined pieces give their text, byte tokens their byte, and unknown, control and unused
// tokens nothing.
//
// Encode handles plain text only: control and user-defined tokens written literally in the text
// ("<s>", "<|user|>") are not recognised as those tokens; they are tokenized like any other text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/normalization.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

// A vocabulary as a model file stores it; entry i is token id i.
struct SpmVocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::optional<int32_t> unknown_id;
  bool add_bos = true;
  bool add_space_prefix = true;
  // Applied to the text between special tokens before it is split (normalization.h).
  Normalization normalization = Normalization::kNone;
  // Entry i: the whitespace token i takes beside it as a special token (tokenizer.json's
  // lstrip and rstrip); tokens past the end take none.
  std::vector<SpecialTokenStrip> special_token_strips;
};

class SpmTokenizer : public Tokenizer {
 public:
  // Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) for arrays of different lengths, an empty
  // vocabulary, a special id out of range, add_bos without a BOS id, a byte token whose text is
  // not "<0xNN>", or a vocabulary that can represent neither bytes nor unknown text.
  static absl::StatusOr<std::unique_ptr<SpmTokenizer>> Create(SpmVocabulary vocabulary);
  // Not copyable: the piece index points into the vocabulary's strings.
  SpmTokenizer(const SpmTokenizer&) = delete;
  SpmTokenizer& operator=(const SpmTokenizer&) = delete;

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string TokenBytes(int32_t id) const override;
  std::string_view TokenText(int32_t id) const override;

 private:
  explicit SpmTokenizer(SpmVocabulary vocabulary);

  // Id of the piece that merging may produce with text `piece`, if any.
  std::optional<int32_t> FindMergeable(std::string_view piece) const;
  // Appends the ids for one final symbol of Encode.
  void AppendSymbol(std::string_view symbol, std::vector<int32_t>& ids) const;

  SpmVocabulary vocabulary_;
  // Normal and user-defined pieces by text; the only ones merging may produce.
  absl::flat_hash_map<std::string_view, int32_t> mergeable_ids_;
  // What TokenBytes returns, per id.
  std::vector<std::string> token_bytes_;
  // Byte-fallback token of each byte value (256 entries); empty when the vocabulary has none.
  std::vector<int32_t> byte_ids_;
};

}  // namespace tessera
