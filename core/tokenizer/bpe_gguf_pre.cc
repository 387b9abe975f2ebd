#include "core/tokenizer/bpe_gguf_pre.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/util/error_reason.h"

namespace tessera {
namespace {

absl::Status Unsupported(absl::string_view message) {
  return WithReason(absl::UnimplementedError(message), reason::kUnsupportedArchitecture);
}

// The names written when converting, one per distinct pre-tokenizer.
constexpr std::string_view kCanonicalNames[] = {"llama-bpe", "qwen2", "gpt2"};

}  // namespace

absl::StatusOr<BpeGgufPre> BpeGgufPreNamed(std::string_view pre) {
  if (pre == "llama-bpe" || pre == "llama3") {
    return BpeGgufPre{.split_regexes = {std::string(kLlama3SplitRegex)},
                      .ignore_merges = true,
                      .add_bos_by_default = true};
  }
  if (pre == "qwen2") {
    return BpeGgufPre{.split_regexes = {std::string(kQwen2SplitRegex)},
                      .normalization = Normalization::kNfc};
  }
  if (pre == "gpt2" || pre == "default") {
    return BpeGgufPre{.split_regexes = {std::string(kGpt2SplitRegex)}};
  }
  return Unsupported(absl::StrCat("pre-tokenizer \"", std::string(pre),
                                  "\" (tokenizer.ggml.pre) is not supported"));
}

absl::StatusOr<std::string> BpeGgufPreName(std::span<const std::string> split_regexes,
                                           bool ignore_merges) {
  for (std::string_view name : kCanonicalNames) {
    const BpeGgufPre pre = *BpeGgufPreNamed(name);
    if (pre.ignore_merges == ignore_merges &&
        std::equal(split_regexes.begin(), split_regexes.end(), pre.split_regexes.begin(),
                   pre.split_regexes.end())) {
      return std::string(name);
    }
  }
  std::string regexes;
  for (const std::string& regex : split_regexes) absl::StrAppend(&regexes, " \"", regex, "\"");
  return Unsupported(absl::StrCat("no tokenizer.ggml.pre name stands for the split regexes",
                                  regexes, " with ignore_merges ",
                                  ignore_merges ? "true" : "false"));
}

}  // namespace tessera
