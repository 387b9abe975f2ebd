// Tokenizer: text <-> token ids for one model's vocabulary. Implementations (SentencePiece-style
// here, byte-level BPE beside it) are built from the vocabulary stored in the model file.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/gguf.h"

namespace tessera {

// How a vocabulary entry behaves, numbered as llama.cpp's GGUF token types.
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5,
  kByte = 6,
};

// The whitespace a special token takes from the text beside it when EncodeWithSpecialTokens
// splits it off (Hugging Face's added-token lstrip and rstrip): that whitespace is not encoded.
// Whitespace is Unicode's White_Space, as for Hugging Face.
struct SpecialTokenStrip {
  bool left = false;   // the whitespace just before the token
  bool right = false;  // the whitespace just after it
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids for `text`, without BOS (callers add it when add_bos() says so). The text is
  // plain: special tokens written in it ("<|im_start|>") are tokenized like any other text.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;

  // Like Encode, but the special tokens given to SetSpecialTokens that are written literally in
  // `text` become those tokens, taking the whitespace beside them their strip says; the text
  // between them is encoded with Encode (which normalizes it: special tokens are matched in the
  // text as written). Where several start at the same place, the longest wins. For prompts
  // built by chat templates.
  std::vector<int32_t> EncodeWithSpecialTokens(std::string_view text) const;

  // Sets the tokens EncodeWithSpecialTokens recognises: the control and user-defined entries of
  // the vocabulary whose entry i is `texts[i]` of type `types[i]` (the first of equal texts
  // wins), with `strips[i]` (none where `strips` ends early). Whoever builds the tokenizer
  // calls this before sharing it.
  void SetSpecialTokens(std::span<const std::string> texts, std::span<const TokenType> types,
                        std::span<const SpecialTokenStrip> strips = {});

  // The bytes token `id` contributes to decoded text: byte-fallback tokens give their byte, the
  // word-boundary marker becomes a space, byte-level BPE tokens give the bytes their characters
  // stand for, control tokens (BOS, EOS) give nothing. A token may give an incomplete UTF-8
  // sequence; TextStream reassembles them.
  virtual std::string TokenBytes(int32_t id) const = 0;

  // The vocabulary entry as stored in the model file (for logprobs and debugging).
  virtual std::string_view TokenText(int32_t id) const = 0;

  // Decoded text of `ids`. With `at_text_start`, the space a SentencePiece-style tokenizer put
  // in front of the text when encoding it is removed again, so Decode(Encode(s), true) == s.
  std::string Decode(std::span<const int32_t> ids, bool at_text_start) const;

  int32_t vocab_size() const { return vocab_size_; }
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  bool add_bos() const { return add_bos_; }
  // True when decoding removes one leading space at the start of a text (see Decode).
  bool strips_leading_space() const { return strips_leading_space_; }

 protected:
  int32_t vocab_size_ = 0;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
  bool add_bos_ = false;
  bool strips_leading_space_ = false;

 private:
  struct SpecialToken {
    std::string text;
    int32_t id;
    SpecialTokenStrip strip;
  };
  // Longest text first, and the bytes their texts start with.
  std::vector<SpecialToken> special_tokens_;
  std::bitset<256> special_token_first_bytes_;
};

// Builds the tokenizer a GGUF file describes (tokenizer.ggml.*, with Tessera's own
// tokenizer.ggml.normalizer: normalization.h). Special tokens strip whitespace as
// Tessera's strip keys say (special_token_strip_keys.h); a file without them gets llama.cpp's
// rule for Phi-3, keyed on general.name. Errors: INVALID_ARGUMENT
// (INVALID_MODEL_FILE) for a missing or inconsistent vocabulary; UNIMPLEMENTED
// (UNSUPPORTED_ARCHITECTURE) for a tokenizer model or normalizer this build does not know.
absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromGguf(const gguf::GgufFile& file);

}  // namespace tessera
