#include "core/tokenizer/hf_tokenizer_to_gguf.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tokenizer/bpe_gguf_pre.h"
#include "core/tokenizer/normalization.h"
#include "core/tokenizer/special_token_strip_keys.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

void AddTokens(std::span<const std::string> tokens, std::span<const TokenType> types,
               gguf::GgufWriter& writer) {
  writer.AddArray<std::string>("tokenizer.ggml.tokens", tokens);
  std::vector<int32_t> type_values;
  type_values.reserve(types.size());
  for (TokenType type : types) type_values.push_back(static_cast<int32_t>(type));
  writer.AddArray<int32_t>("tokenizer.ggml.token_type", type_values);
}

void AddOptionalId(std::string_view key, std::optional<int32_t> id, gguf::GgufWriter& writer) {
  if (id.has_value()) writer.AddUint32(key, static_cast<uint32_t>(*id));
}

// Written always: an absent key means the normalization tokenizer.ggml.pre implies.
void AddNormalization(Normalization normalization, gguf::GgufWriter& writer) {
  writer.AddString(kGgufNormalizerKey, NormalizationName(normalization));
}

// Written always, even empty: their presence tells the reader that the strips are known and
// llama.cpp's rule keyed on general.name must not apply.
void AddSpecialTokenStrips(std::span<const SpecialTokenStrip> strips, gguf::GgufWriter& writer) {
  std::vector<int32_t> lstrip_ids;
  std::vector<int32_t> rstrip_ids;
  for (size_t id = 0; id < strips.size(); ++id) {
    if (strips[id].left) lstrip_ids.push_back(static_cast<int32_t>(id));
    if (strips[id].right) rstrip_ids.push_back(static_cast<int32_t>(id));
  }
  writer.AddArray<int32_t>(kGgufLstripTokenIdsKey, lstrip_ids);
  writer.AddArray<int32_t>(kGgufRstripTokenIdsKey, rstrip_ids);
}

absl::Status AddBpe(const BpeVocabulary& vocabulary, gguf::GgufWriter& writer) {
  TESSERA_ASSIGN_OR_RETURN(const std::string pre,
                           BpeGgufPreName(vocabulary.split_regexes, vocabulary.ignore_merges));
  std::vector<std::string> merges;
  merges.reserve(vocabulary.merges.size());
  for (const auto& [left, right] : vocabulary.merges) {
    if (left.find(' ') != std::string::npos || right.find(' ') != std::string::npos) {
      return WithReason(absl::InvalidArgumentError(absl::StrCat(
                            "merge rule (\"", left, "\", \"", right,
                            "\") has a space inside a token and cannot be written to GGUF")),
                        reason::kInvalidModelFile);
    }
    merges.push_back(absl::StrCat(left, " ", right));
  }
  writer.AddString("tokenizer.ggml.model", "gpt2");
  writer.AddString("tokenizer.ggml.pre", pre);
  AddNormalization(vocabulary.normalization, writer);
  AddTokens(vocabulary.tokens, vocabulary.types, writer);
  AddSpecialTokenStrips(vocabulary.special_token_strips, writer);
  writer.AddArray<std::string>("tokenizer.ggml.merges", merges);
  AddOptionalId("tokenizer.ggml.bos_token_id", vocabulary.bos_id, writer);
  AddOptionalId("tokenizer.ggml.eos_token_id", vocabulary.eos_id, writer);
  writer.AddBool("tokenizer.ggml.add_bos_token", vocabulary.add_bos);
  return absl::OkStatus();
}

void AddSpm(const SpmVocabulary& vocabulary, gguf::GgufWriter& writer) {
  writer.AddString("tokenizer.ggml.model", "llama");
  AddNormalization(vocabulary.normalization, writer);
  AddTokens(vocabulary.tokens, vocabulary.types, writer);
  AddSpecialTokenStrips(vocabulary.special_token_strips, writer);
  writer.AddArray<float>("tokenizer.ggml.scores", vocabulary.scores);
  AddOptionalId("tokenizer.ggml.bos_token_id", vocabulary.bos_id, writer);
  AddOptionalId("tokenizer.ggml.eos_token_id", vocabulary.eos_id, writer);
  AddOptionalId("tokenizer.ggml.unknown_token_id", vocabulary.unknown_id, writer);
  writer.AddBool("tokenizer.ggml.add_bos_token", vocabulary.add_bos);
  writer.AddBool("tokenizer.ggml.add_space_prefix", vocabulary.add_space_prefix);
}

}  // namespace

absl::Status AddVocabularyToGguf(const Vocabulary& vocabulary, gguf::GgufWriter& writer) {
  if (const auto* bpe = std::get_if<BpeVocabulary>(&vocabulary)) return AddBpe(*bpe, writer);
  AddSpm(std::get<SpmVocabulary>(vocabulary), writer);
  return absl::OkStatus();
}

absl::Status ConvertHfTokenizerToGguf(const std::string& tokenizer_json_path,
                                      const std::string& gguf_path) {
  TESSERA_ASSIGN_OR_RETURN(const Vocabulary vocabulary, ReadHfTokenizer(tokenizer_json_path));
  gguf::GgufWriter writer;
  TESSERA_RETURN_IF_ERROR(AddVocabularyToGguf(vocabulary, writer));
  return writer.WriteFile(gguf_path);
}

}  // namespace tessera
