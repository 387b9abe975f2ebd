#include "core/tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/utf8.h"
#include "core/util/error_reason.h"

namespace tessera {

class Pretokenizer::CompiledRegex {
 public:
  explicit CompiledRegex(pcre2_code* code) : code_(code) {}
  ~CompiledRegex() { pcre2_code_free(code_); }
  CompiledRegex(const CompiledRegex&) = delete;
  CompiledRegex& operator=(const CompiledRegex&) = delete;

  // Appends the pieces this regex splits `text` into.
  void Split(std::string_view text, std::vector<std::string_view>& pieces) const {
    // Match data is per call so that threads can split at the same time.
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t unmatched_from = 0;
    for (size_t offset = 0; offset < text.size();) {
      // An error other than no match (a resource limit) leaves the rest as one piece.
      if (pcre2_match(code_, subject, text.size(), offset, 0, match, nullptr) < 0) break;
      const PCRE2_SIZE* bounds = pcre2_get_ovector_pointer(match);
      const size_t begin = bounds[0], end = bounds[1];
      if (begin == end) {  // an empty match splits nothing: look again one character on
        if (begin == text.size()) break;
        offset = begin + ScanUtf8Head(text.substr(begin)).length;
        continue;
      }
      if (begin > unmatched_from) {
        pieces.push_back(text.substr(unmatched_from, begin - unmatched_from));
      }
      pieces.push_back(text.substr(begin, end - begin));
      unmatched_from = offset = end;
    }
    if (unmatched_from < text.size()) pieces.push_back(text.substr(unmatched_from));
    pcre2_match_data_free(match);
  }

 private:
  pcre2_code* code_;
};

absl::StatusOr<Pretokenizer> Pretokenizer::Create(std::span<const std::string> regexes) {
  std::vector<std::shared_ptr<const CompiledRegex>> compiled;
  for (const std::string& regex : regexes) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    // MATCH_INVALID_UTF: invalid UTF-8 in the text is never matched instead of failing a match.
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                     &error_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return WithReason(absl::InvalidArgumentError(absl::StrCat(
                            "pre-tokenizer regex \"", regex, "\" does not compile at offset ",
                            error_offset, ": ", reinterpret_cast<const char*>(message))),
                        reason::kInvalidModelFile);
    }
    // Without JIT support (or if JIT fails) matching falls back to the interpreter.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    compiled.push_back(std::make_shared<const CompiledRegex>(code));
  }
  return Pretokenizer(std::move(compiled));
}

std::vector<std::string_view> Pretokenizer::Split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (!text.empty()) pieces.push_back(text);
  for (const auto& regex : compiled_) {
    std::vector<std::string_view> finer;
    for (std::string_view piece : pieces) regex->Split(piece, finer);
    pieces = std::move(finer);
  }
  return pieces;
}

}  // namespace tessera
