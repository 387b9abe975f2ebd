// TokenizerFromGguf: reads the tokenizer.ggml.* metadata and builds the tokenizer it names.
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/spm.h"
#include "core/tokenizer/tokenizer.h"
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

absl::StatusOr<std::unique_ptr<Tokenizer>> SpmTokenizerFromGguf(const gguf::GgufFile& file) {
  SpmVocabulary vocabulary;
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::string_view> tokens,
                           file.GetStringArray("tokenizer.ggml.tokens"));
  vocabulary.tokens.assign(tokens.begin(), tokens.end());
  TESSERA_ASSIGN_OR_RETURN(vocabulary.scores, file.GetFloatArray("tokenizer.ggml.scores"));
  TESSERA_ASSIGN_OR_RETURN(const std::vector<int64_t> types,
                           file.GetIntArray("tokenizer.ggml.token_type"));
  for (int64_t type : types) {
    // A value that does not fit becomes -1, which SpmTokenizer::Create rejects as unknown.
    const bool fits = type >= INT32_MIN && type <= INT32_MAX;
    vocabulary.types.push_back(static_cast<TokenType>(fits ? type : -1));
  }
  TESSERA_ASSIGN_OR_RETURN(vocabulary.bos_id, ReadOptionalId(file, "tokenizer.ggml.bos_token_id"));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.eos_id, ReadOptionalId(file, "tokenizer.ggml.eos_token_id"));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.unknown_id,
                           ReadOptionalId(file, "tokenizer.ggml.unknown_token_id"));
  // llama.cpp's defaults for this tokenizer model when the file does not say.
  TESSERA_ASSIGN_OR_RETURN(vocabulary.add_bos,
                           ReadBool(file, "tokenizer.ggml.add_bos_token", true));
  TESSERA_ASSIGN_OR_RETURN(vocabulary.add_space_prefix,
                           ReadBool(file, "tokenizer.ggml.add_space_prefix", true));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<SpmTokenizer> tokenizer,
                           SpmTokenizer::Create(std::move(vocabulary)));
  return tokenizer;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromGguf(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const std::string_view model, file.GetString("tokenizer.ggml.model"));
  if (model == "llama") return SpmTokenizerFromGguf(file);
  return WithReason(absl::UnimplementedError(absl::StrCat("tokenizer model \"", std::string(model),
                                                          "\" is not supported yet")),
                    reason::kUnsupportedArchitecture);
}

}  // namespace tessera
