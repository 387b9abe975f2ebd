#include "core/tokenizer/normalization.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"

namespace tessera {

std::string Normalize(std::string_view text, Normalization normalization) {
  if (normalization == Normalization::kNone || text.size() > INT32_MAX) return std::string(text);
  UErrorCode error = U_ZERO_ERROR;
  // ICU builds it once from data compiled into the library and shares it between threads.
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
  std::string normalized;
  normalized.reserve(text.size());
  icu::StringByteSink<std::string> sink(&normalized);
  // Ill-formed UTF-8 is copied through unchanged, and nothing composes across it.
  const icu::StringPiece source(text.data(), static_cast<int32_t>(text.size()));
  if (U_SUCCESS(error)) nfc->normalizeUTF8(/*options=*/0, source, sink, /*edits=*/nullptr, error);
  return U_SUCCESS(error) ? normalized : std::string(text);
}

std::string_view NormalizationName(Normalization normalization) {
  switch (normalization) {
    case Normalization::kNone: return "none";
    case Normalization::kNfc: return "nfc";
  }
  return "none";
}

absl::StatusOr<Normalization> NormalizationNamed(std::string_view name) {
  for (Normalization normalization : {Normalization::kNone, Normalization::kNfc}) {
    if (name == NormalizationName(normalization)) return normalization;
  }
  return WithReason(
      absl::UnimplementedError(absl::StrCat("normalizer \"", std::string(name), "\" (",
                                            std::string(kGgufNormalizerKey), ") is not supported")),
      reason::kUnsupportedArchitecture);
}

}  // namespace tessera
