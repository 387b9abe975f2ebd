#include "core/tokenizer/spm.h"

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/utf8.h"
#include "core/tokenizer/vocabulary_check.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

// SentencePiece writes a space as U+2581 LOWER ONE EIGHTH BLOCK.
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The byte a byte-fallback token "<0xNN>" stands for.
std::optional<uint8_t> ParseByteToken(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || !text.ends_with(">")) return std::nullopt;
  const int high = HexDigitValue(text[3]);
  const int low = HexDigitValue(text[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<uint8_t>(high * 16 + low);
}

// `text` with every `from` replaced by `to`.
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string result;
  for (size_t pos = 0; pos < text.size();) {
    const size_t found = text.find(from, pos);
    result.append(text.substr(pos, found - pos));
    if (found == std::string_view::npos) break;
    result.append(to);
    pos = found + from.size();
  }
  return result;
}

// What a token contributes to decoded text, as llama.cpp renders it with special tokens hidden:
// unknown, control, unused and undefined tokens give nothing.
std::string BytesOf(std::string_view text, TokenType type) {
  switch (type) {
    case TokenType::kNormal:
      return ReplaceAll(text, kSpaceMarker, " ");
    case TokenType::kUserDefined:
      return std::string(text);
    case TokenType::kByte:
      return std::string(1, static_cast<char>(*ParseByteToken(text)));
    default:
      return "";
  }
}

absl::Status Validate(const SpmVocabulary& vocabulary) {
  const size_t n = vocabulary.tokens.size();
  TESSERA_RETURN_IF_ERROR(CheckTokenTypes(n, vocabulary.types));
  if (vocabulary.scores.size() != n) {
    return InvalidVocabulary(absl::StrCat(n, " tokens but ", vocabulary.scores.size(), " scores"));
  }
  std::bitset<256> bytes_covered;
  for (size_t id = 0; id < n; ++id) {
    if (vocabulary.types[id] != TokenType::kByte) continue;
    const std::optional<uint8_t> byte = ParseByteToken(vocabulary.tokens[id]);
    if (!byte.has_value()) {
      return InvalidVocabulary(
          absl::StrCat("byte token ", id, " is \"", vocabulary.tokens[id], "\", not <0xNN>"));
    }
    bytes_covered.set(*byte);
  }
  // Byte fallback must be able to spell any byte; without it unknown text needs an unknown token.
  if (bytes_covered.any() && !bytes_covered.all()) {
    return InvalidVocabulary(
        absl::StrCat("byte tokens for only ", bytes_covered.count(), " of 256 byte values"));
  }
  if (bytes_covered.none() && !vocabulary.unknown_id.has_value()) {
    return InvalidVocabulary("neither byte tokens nor an unknown token to encode unknown text");
  }
  TESSERA_RETURN_IF_ERROR(CheckTokenId(vocabulary.bos_id, "bos_token_id", n));
  TESSERA_RETURN_IF_ERROR(CheckTokenId(vocabulary.eos_id, "eos_token_id", n));
  TESSERA_RETURN_IF_ERROR(CheckTokenId(vocabulary.unknown_id, "unknown_token_id", n));
  if (vocabulary.add_bos && !vocabulary.bos_id.has_value()) {
    return InvalidVocabulary("add_bos_token is set but there is no bos_token_id");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SpmTokenizer>> SpmTokenizer::Create(SpmVocabulary vocabulary) {
  if (absl::Status status = Validate(vocabulary); !status.ok()) return status;
  return std::unique_ptr<SpmTokenizer>(new SpmTokenizer(std::move(vocabulary)));
}

SpmTokenizer::SpmTokenizer(SpmVocabulary vocabulary) : vocabulary_(std::move(vocabulary)) {
  vocab_size_ = static_cast<int32_t>(vocabulary_.tokens.size());
  bos_id_ = vocabulary_.bos_id;
  eos_id_ = vocabulary_.eos_id;
  add_bos_ = vocabulary_.add_bos;
  strips_leading_space_ = vocabulary_.add_space_prefix;

  token_bytes_.reserve(vocabulary_.tokens.size());
  for (int32_t id = 0; id < vocab_size_; ++id) {
    const std::string& text = vocabulary_.tokens[id];
    const TokenType type = vocabulary_.types[id];
    token_bytes_.push_back(BytesOf(text, type));
    // The first of duplicate entries wins.
    if (type == TokenType::kNormal || type == TokenType::kUserDefined) {
      mergeable_ids_.try_emplace(text, id);
    } else if (type == TokenType::kByte) {
      if (byte_ids_.empty()) byte_ids_.assign(256, -1);
      int32_t& byte_id = byte_ids_[*ParseByteToken(text)];
      if (byte_id < 0) byte_id = id;
    }
  }
}

std::optional<int32_t> SpmTokenizer::FindMergeable(std::string_view piece) const {
  const auto it = mergeable_ids_.find(piece);
  if (it == mergeable_ids_.end()) return std::nullopt;
  return it->second;
}

std::vector<int32_t> SpmTokenizer::Encode(std::string_view text) const {
  if (text.empty()) return {};
  std::string normalized = vocabulary_.add_space_prefix ? std::string(kSpaceMarker) : "";
  normalized += ReplaceAll(Normalize(text, vocabulary_.normalization), " ", kSpaceMarker);

  // The text as a doubly linked list of symbols, one per UTF-8 character to begin with; a merge
  // grows the left symbol over the right one and unlinks the right one (length 0).
  struct Symbol {
    size_t begin;
    size_t length;
    int prev;
    int next;
  };
  std::vector<Symbol> symbols;
  for (size_t begin = 0; begin < normalized.size();) {
    const size_t length = ScanUtf8Head(std::string_view(normalized).substr(begin)).length;
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({begin, length, index - 1, index + 1});
    begin += length;
  }
  symbols.back().next = -1;

  // Candidate merges of adjacent symbols, best first: highest score, then leftmost.
  struct Candidate {
    float score;
    int left;
    int right;
    size_t length;  // left.length + right.length when proposed; a mismatch marks it stale
  };
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> candidates(worse);
  auto propose = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const auto id = FindMergeable(std::string_view(normalized).substr(symbols[left].begin, length));
    if (id.has_value()) candidates.push({vocabulary_.scores[*id], left, right, length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) propose(i - 1, i);

  while (!candidates.empty()) {
    const Candidate best = candidates.top();
    candidates.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    // Either side may have been merged into something else since this pair was proposed.
    if (left.length == 0 || right.length == 0 || left.length + right.length != best.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = best.left;
    propose(left.prev, best.left);
    propose(best.left, left.next);
  }

  std::vector<int32_t> ids;
  for (int i = 0; i >= 0; i = symbols[i].next) {
    AppendSymbol(std::string_view(normalized).substr(symbols[i].begin, symbols[i].length), ids);
  }
  return ids;
}

void SpmTokenizer::AppendSymbol(std::string_view symbol, std::vector<int32_t>& ids) const {
  if (const auto id = FindMergeable(symbol); id.has_value()) {
    ids.push_back(*id);
  } else if (!byte_ids_.empty()) {
    for (char byte : symbol) ids.push_back(byte_ids_[static_cast<uint8_t>(byte)]);
  } else {
    ids.push_back(*vocabulary_.unknown_id);
  }
}

std::string SpmTokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size_) return "";
  return token_bytes_[id];
}

std::string_view SpmTokenizer::TokenText(int32_t id) const {
  if (id < 0 || id >= vocab_size_) return "";
  return vocabulary_.tokens[id];
}

}  // namespace tessera
