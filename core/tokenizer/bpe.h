// BpeTokenizer: byte-level BPE as GPT-2 introduced it (GGUF tokenizer model "gpt2": Llama 3,
// Qwen2, Qwen2.5, Qwen3), giving the ids the Hugging Face tokenizer gives.
//
// Encode normalizes the text as the vocabulary says (Qwen's NFC), splits it into pieces with the
// model's pre-tokenizer regexes, spells each piece's bytes in the byte-level alphabet
// (byte_level.h: a space is "Ġ") and then, within each piece, repeatedly merges the adjacent
// pair of tokens with the best-ranked merge rule (the earliest in the list; the leftmost pair on
// ties). With ignore_merges, a piece that is itself a vocabulary token becomes that token
// without merging.
//
// TokenBytes gives the bytes a normal token's characters stand for, a user-defined token's text
// as it is, and nothing for the other types (control, unknown, unused).
//
// Encode handles plain text only: special tokens written in the text ("<|im_start|>") are
// tokenized like any other text; EncodeWithSpecialTokens recognises them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/normalization.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

// A vocabulary as a model file stores it; entry i is token id i.
struct BpeVocabulary {
  // Normal tokens are spelled in the byte-level alphabet ("Ġhello"); control and user-defined
  // tokens are plain text ("<|im_start|>").
  std::vector<std::string> tokens;
  std::vector<TokenType> types;
  // Merge rules, best first: the pair of token texts whose concatenation is a normal token.
  std::vector<std::pair<std::string, std::string>> merges;
  // The pre-tokenizer's split regexes, applied one after the other (pretokenizer.h).
  std::vector<std::string> split_regexes;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  bool add_bos = false;
  // A piece that is a whole vocabulary token becomes that token without merging (Llama 3).
  bool ignore_merges = false;
  // Applied to the text between special tokens before it is split (normalization.h).
  Normalization normalization = Normalization::kNone;
  // Entry i: the whitespace token i takes beside it as a special token (tokenizer.json's
  // lstrip and rstrip); tokens past the end take none.
  std::vector<SpecialTokenStrip> special_token_strips;
};

class BpeTokenizer : public Tokenizer {
 public:
  // Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) for arrays of different lengths, an empty
  // vocabulary, an unknown token type, a byte of the byte-level alphabet that has no normal
  // token, a special id out of range, add_bos without a BOS id, or a regex that does not
  // compile. Merge rules whose parts or result are not normal tokens can never apply and are
  // skipped.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Create(BpeVocabulary vocabulary);
  // Not copyable: the token index points into the token strings.
  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string TokenBytes(int32_t id) const override;
  std::string_view TokenText(int32_t id) const override;

 private:
  // What merging a pair of tokens gives.
  struct Merge {
    int32_t rank;  // index in the merge list: lower merges first
    int32_t result;
  };

  BpeTokenizer(BpeVocabulary vocabulary, Pretokenizer pretokenizer);

  // Appends the ids of one pre-tokenized piece.
  void EncodePiece(std::string_view piece, std::vector<int32_t>& ids) const;
  std::optional<Merge> FindMerge(int32_t left, int32_t right) const;

  std::vector<std::string> tokens_;
  // What TokenBytes returns, per id.
  std::vector<std::string> token_bytes_;
  bool ignore_merges_;
  Normalization normalization_;
  Pretokenizer pretokenizer_;
  // Normal tokens by text; the only ones encoding produces.
  absl::flat_hash_map<std::string_view, int32_t> normal_ids_;
  // The normal token of each byte's byte-level character (256 entries).
  std::vector<int32_t> byte_ids_;
  // Merges keyed by (left id << 32 | right id).
  absl::flat_hash_map<uint64_t, Merge> merges_;
};

}  // namespace tessera
