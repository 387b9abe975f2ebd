// Pretokenizer: splits text into the pieces byte-level BPE merges within, with the split regexes
// of the model's tokenizer (Hugging Face "Split" pre-tokenizers with behaviour "Isolated"):
// every match is a piece, and so is every stretch of text between matches. With several
// regexes, each one splits the pieces of the one before.
//
// Regexes use Unicode properties (\p{L}, \s) and are compiled by PCRE2 in UTF mode with Unicode
// properties. Text that is not valid UTF-8 is split too: no regex matches an invalid byte, so it
// ends up in a piece of its own with its invalid neighbours.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera {

// The split regexes of the tokenizers Tessera knows, as their tokenizer.json files write them.
// GPT-2: runs of letters, of digits and of other symbols, each with an optional leading space.
inline constexpr std::string_view kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3: contractions in any case, digits in groups of at most three, newlines kept apart.
inline constexpr std::string_view kLlama3SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|)"
    R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 (also Qwen2.5 and Qwen3): as Llama 3's, but every digit on its own.
inline constexpr std::string_view kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|)"
    R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class Pretokenizer {
 public:
  // Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) naming the regex and PCRE2's complaint when one
  // does not compile; an empty list is allowed (the whole text is one piece).
  static absl::StatusOr<Pretokenizer> Create(std::span<const std::string> regexes);

  // The pieces of `text`, in order; together they are exactly `text`. None for empty text.
  std::vector<std::string_view> Split(std::string_view text) const;

 private:
  class CompiledRegex;

  explicit Pretokenizer(std::vector<std::shared_ptr<const CompiledRegex>> compiled)
      : compiled_(std::move(compiled)) {}

  // Shared so a Pretokenizer can be moved and copied; matching never changes them.
  std::vector<std::shared_ptr<const CompiledRegex>> compiled_;
};

}  // namespace tessera
