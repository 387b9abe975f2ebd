#include "core/tokenizer/utf8.h"

#include <cstdint>

namespace tessera {
namespace {

// What a lead byte promises: the character's length and the range its second byte must be in
// (narrower than 80..BF after E0, ED, F0 and F4, which rules out overlong forms, surrogates and
// code points above U+10FFFF). length 0: not a lead byte.
struct LeadByte {
  size_t length;
  uint8_t second_min;
  uint8_t second_max;
};

LeadByte ClassifyLead(uint8_t byte) {
  if (byte <= 0x7F) return {1, 0, 0};
  if (byte >= 0xC2 && byte <= 0xDF) return {2, 0x80, 0xBF};
  if (byte == 0xE0) return {3, 0xA0, 0xBF};
  if (byte == 0xED) return {3, 0x80, 0x9F};
  if (byte >= 0xE1 && byte <= 0xEF) return {3, 0x80, 0xBF};
  if (byte == 0xF0) return {4, 0x90, 0xBF};
  if (byte >= 0xF1 && byte <= 0xF3) return {4, 0x80, 0xBF};
  if (byte == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};  // 80..BF (continuation), C0, C1 (overlong), F5..FF (beyond U+10FFFF)
}

}  // namespace

Utf8Head ScanUtf8Head(std::string_view text) {
  const LeadByte lead = ClassifyLead(static_cast<uint8_t>(text[0]));
  if (lead.length == 0) return {.length = 1};
  size_t matched = 1;
  while (matched < lead.length && matched < text.size()) {
    const uint8_t byte = static_cast<uint8_t>(text[matched]);
    const uint8_t min = matched == 1 ? lead.second_min : 0x80;
    const uint8_t max = matched == 1 ? lead.second_max : 0xBF;
    if (byte < min || byte > max) break;
    ++matched;
  }
  if (matched == lead.length) return {.length = matched, .well_formed = true};
  return {.length = matched, .truncated = matched == text.size()};
}

}  // namespace tessera
