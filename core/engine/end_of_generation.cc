#include "core/engine/end_of_generation.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "core/models/hf_directory.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

absl::Status AddId(const gguf::GgufFile& file, std::string_view key, int64_t id,
                   int32_t vocab_size, std::vector<int32_t>& ids) {
  if (id < 0 || id >= vocab_size) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          file.path(), ": ", std::string(key), " holds token id ", id,
                          ", outside the vocabulary [0, ", vocab_size, ")")),
                      reason::kInvalidModelFile);
  }
  ids.push_back(static_cast<int32_t>(id));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> EndOfGenerationIds(const gguf::GgufFile& file,
                                                        int32_t vocab_size) {
  std::vector<int32_t> ids;
  for (const std::string_view key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                     "tokenizer.ggml.eom_token_id"}) {
    if (file.Find(key) == nullptr) continue;
    TESSERA_ASSIGN_OR_RETURN(const int64_t id, file.GetInt(key));
    TESSERA_RETURN_IF_ERROR(AddId(file, key, id, vocab_size, ids));
  }
  if (file.Find(kEosTokenIdsKey) != nullptr) {
    TESSERA_ASSIGN_OR_RETURN(const std::vector<int64_t> list, file.GetIntArray(kEosTokenIdsKey));
    for (const int64_t id : list) {
      TESSERA_RETURN_IF_ERROR(AddId(file, kEosTokenIdsKey, id, vocab_size, ids));
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace tessera
