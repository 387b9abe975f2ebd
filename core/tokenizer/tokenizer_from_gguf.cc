// TokenizerFromGguf: reads the tokenizer.ggml.* metadata and builds the tokenizer it names.
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/bpe_gguf_pre.h"
#include "core/tokenizer/normalization.h"
#include "core/tokenizer/special_token_strip_keys.h"
#include "core/tokenizer/spm.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/vocabulary.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

absl::StatusOr<std::optional<int32_t>> ReadOptionalId(const gguf::GgufFile& file,
                                                      std::string_view key) {
  if (file.Find(key) == nullptr) return std::nullopt;
  TESSERA_ASSIGN_OR_RETURN(const int64_t id, file.GetInt(key));
  if (id < 0 || id > INT32_MAX) {
    return WithReason(
        absl::InvalidArgumentError(absl::StrCat(std::string(key), " ", id, " is out of range")),
        reason::kInvalidModelFile);
  }
  return static_cast<int32_t>(id);
}

absl::StatusOr<bool> ReadBool(const gguf::GgufFile& file, std::string_view key,
                              bool default_value) {
  if (file.Find(key) == nullptr) return default_value;
  return file.GetBool(key);
}

absl::StatusOr<std::vector<std::string>> ReadTokens(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::string_view> tokens,
                           file.GetStringArray("tokenizer.ggml.tokens"));
  return std::vector<std::string>(tokens.begin(), tokens.end());
}

absl::StatusOr<std::vector<TokenType>> ReadTokenTypes(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<int64_t> values,
                           file.GetIntArray("tokenizer.ggml.token_type"));
  std::vector<TokenType> types;
  types.reserve(values.size());
  for (int64_t type : values) {
    // A value that does not fit becomes -1, which the tokenizers reject as unknown.
    const bool fits = type >= INT32_MIN && type <= INT32_MAX;
    types.push_back(static_cast<TokenType>(fits ? type : -1));
  }
  return types;
}

// Tessera's own key (normalization.h); `absent` when the file does not have it.
absl::StatusOr<Normalization> ReadNormalization(const gguf::GgufFile& file,
                                                Normalization absent) {
  if (file.Find(kGgufNormalizerKey) == nullptr) return absent;
  TESSERA_ASSIGN_OR_RETURN(const std::string_view name, file.GetString(kGgufNormalizerKey));
  return NormalizationNamed(name);
}

// llama.cpp's files have no place for the lstrip and rstrip of Hugging Face's added tokens.
// llama.cpp sets them by rules keyed on the model's name (llama_vocab's load, llama-vocab.cpp);
// the one for a tokenizer Tessera reads is Phi-3's: where general.name contains "phi-3" or
// "phi3" in any case, every special token takes the whitespace after it except <unk>, <s> and
// <|endoftext|>, as Phi-3's tokenizer.json says. Other files strip nothing.
absl::StatusOr<std::vector<SpecialTokenStrip>> ReadLlamaCppStrips(
    const gguf::GgufFile& file, const std::vector<std::string>& tokens) {
  if (file.Find("general.name") == nullptr) return std::vector<SpecialTokenStrip>();
  TESSERA_ASSIGN_OR_RETURN(const std::string_view name, file.GetString("general.name"));
  const std::string lower = absl::AsciiStrToLower(std::string(name));
  if (!absl::StrContains(lower, "phi-3") && !absl::StrContains(lower, "phi3")) {
    return std::vector<SpecialTokenStrip>();
  }
  // Only special tokens are split off, so the rule can be set on every token.
  std::vector<SpecialTokenStrip> strips(tokens.size(), SpecialTokenStrip{.right = true});
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (tokens[id] == "<unk>" || tokens[id] == "<s>" || tokens[id] == "<|endoftext|>") {
      strips[id].right = false;
    }
  }
  return strips;
}

// Sets `side` of each token strip key `key` lists (special_token_strip_keys.h); nothing when the
// file does not have the key.
absl::Status ReadStripTokenIds(const gguf::GgufFile& file, std::string_view key,
                               bool SpecialTokenStrip::*side,
                               std::vector<SpecialTokenStrip>& strips) {
  if (file.Find(key) == nullptr) return absl::OkStatus();
  TESSERA_ASSIGN_OR_RETURN(const std::vector<int64_t> ids, file.GetIntArray(key));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= static_cast<int64_t>(strips.size())) {
      return WithReason(absl::InvalidArgumentError(absl::StrCat(
                            std::string(key), "[", i, "] = ", ids[i],
                            " is not a token id of the ", strips.size(), "-token vocabulary")),
                        reason::kInvalidModelFile);
    }
    strips[ids[i]].*side = true;
  }
  return absl::OkStatus();
}

// Tessera's own strip keys where the file has either; otherwise llama.cpp's rule.
absl::StatusOr<std::vector<SpecialTokenStrip>> ReadSpecialTokenStrips(
    const gguf::GgufFile& file, const std::vector<std::string>& tokens) {
  if (file.Find(kGgufLstripTokenIdsKey) == nullptr &&
      file.Find(kGgufRstripTokenIdsKey) == nullptr) {
    return ReadLlamaCppStrips(file, tokens);
  }
  std::vector<SpecialTokenStrip> strips(tokens.size());
  TESSERA_RETURN_IF_ERROR(
      ReadStripTokenIds(file, kGgufLstripTokenIdsKey, &SpecialTokenStrip::left, strips));
  TESSERA_RETURN_IF_ERROR(
      ReadStripTokenIds(file, kGgufRstripTokenIdsKey, &SpecialTokenStrip::right, strips));
  return strips;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> SpmTokenizerFromGguf(const gguf::GgufFile& file) {
  SpmVocabulary vocabulary;
  TESSERA_ASSIGN_OR_RETURN(vocabulary.tokens, ReadTokens(file));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.scores, file.GetFloatArray("tokenizer.ggml.scores"));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.types, ReadTokenTypes(file));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.bos_id, ReadOptionalId(file, "tokenizer.ggml.bos_token_id"));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.eos_id, ReadOptionalId(file, "tokenizer.ggml.eos_token_id"));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.unknown_id,
                           ReadOptionalId(file, "tokenizer.ggml.unknown_token_id"));
  // llama.cpp's defaults for this tokenizer model when the file does not say.
  TESSERA_ASSIGN_OR_RETURN(vocabulary.add_bos,
                           ReadBool(file, "tokenizer.ggml.add_bos_token", true));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.add_space_prefix,
                           ReadBool(file, "tokenizer.ggml.add_space_prefix", true));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.normalization,
                           ReadNormalization(file, Normalization::kNone));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.special_token_strips,
                           ReadSpecialTokenStrips(file, vocabulary.tokens));
  return TokenizerFromVocabulary(std::move(vocabulary));
}

// Merge rules are stored as "left right"; neither side contains a space (byte-level text spells
// it "Ġ").
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadMerges(
    const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::string_view> rules,
                           file.GetStringArray("tokenizer.ggml.merges"));
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const size_t space = rules[i].find(' ');
    if (space == std::string_view::npos) {
      return WithReason(absl::InvalidArgumentError(absl::StrCat(
                            "tokenizer.ggml.merges[", i, "] \"", std::string(rules[i]),
                            "\" is not two tokens separated by a space")),
                        reason::kInvalidModelFile);
    }
    merges.emplace_back(rules[i].substr(0, space), rules[i].substr(space + 1));
  }
  return merges;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizerFromGguf(const gguf::GgufFile& file) {
  // llama.cpp reads a file without the key as "default".
  std::string_view pre_name = "default";
  if (file.Find("tokenizer.ggml.pre") != nullptr) {
    TESSERA_ASSIGN_OR_RETURN(pre_name, file.GetString("tokenizer.ggml.pre"));
  }
  TESSERA_ASSIGN_OR_RETURN(BpeGgufPre pre, BpeGgufPreNamed(pre_name));
  BpeVocabulary vocabulary;
  vocabulary.split_regexes = std::move(pre.split_regexes);
  vocabulary.ignore_merges = pre.ignore_merges;
  TESSERA_ASSIGN_OR_RETURN(vocabulary.normalization, ReadNormalization(file, pre.normalization));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.tokens, ReadTokens(file));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.types, ReadTokenTypes(file));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.merges, ReadMerges(file));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.special_token_strips,
                           ReadSpecialTokenStrips(file, vocabulary.tokens));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.bos_id, ReadOptionalId(file, "tokenizer.ggml.bos_token_id"));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.eos_id, ReadOptionalId(file, "tokenizer.ggml.eos_token_id"));
  // The default only holds for a vocabulary that has a BOS to add.
  TESSERA_ASSIGN_OR_RETURN(
      vocabulary.add_bos,
      ReadBool(file, "tokenizer.ggml.add_bos_token",
               pre.add_bos_by_default && vocabulary.bos_id.has_value()));
  return TokenizerFromVocabulary(std::move(vocabulary));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromGguf(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const std::string_view model, file.GetString("tokenizer.ggml.model"));
  if (model == "llama") return SpmTokenizerFromGguf(file);
  if (model == "gpt2") return BpeTokenizerFromGguf(file);
  return WithReason(absl::UnimplementedError(absl::StrCat("tokenizer model \"", std::string(model),
                                                          "\" is not supported yet")),
                    reason::kUnsupportedArchitecture);
}

}  // namespace tessera
