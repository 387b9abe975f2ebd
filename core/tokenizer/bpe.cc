#include "core/tokenizer/bpe.h"

#include <climits>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/vocabulary_check.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

absl::Status Validate(const BpeVocabulary& vocabulary) {
  const size_t n = vocabulary.tokens.size();
  TESSERA_RETURN_IF_ERROR(CheckTokenTypes(n, vocabulary.types));
  TESSERA_RETURN_IF_ERROR(CheckTokenId(vocabulary.bos_id, "bos_token_id", n));
  TESSERA_RETURN_IF_ERROR(CheckTokenId(vocabulary.eos_id, "eos_token_id", n));
  if (vocabulary.add_bos && !vocabulary.bos_id.has_value()) {
    return InvalidVocabulary("add_bos_token is set but there is no bos_token_id");
  }
  return absl::OkStatus();
}

// What a token contributes to decoded text; control, unknown and unused tokens give nothing.
std::string BytesOf(std::string_view text, TokenType type) {
  switch (type) {
    case TokenType::kNormal:
      return FromByteLevel(text);
    case TokenType::kUserDefined:
      return std::string(text);
    default:
      return "";
  }
}

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(BpeVocabulary vocabulary) {
  TESSERA_RETURN_IF_ERROR(Validate(vocabulary));
  TESSERA_ASSIGN_OR_RETURN(Pretokenizer pretokenizer,
                           Pretokenizer::Create(vocabulary.split_regexes));
  auto tokenizer = std::unique_ptr<BpeTokenizer>(
      new BpeTokenizer(std::move(vocabulary), std::move(pretokenizer)));
  // Every byte must have a token, so that any text can be encoded.
  for (int byte = 0; byte < 256; ++byte) {
    if (tokenizer->byte_ids_[byte] < 0) {
      return InvalidVocabulary(absl::StrCat(
          "no normal token \"", std::string(ByteLevelCharacter(byte)), "\" for byte ", byte));
    }
  }
  return tokenizer;
}

BpeTokenizer::BpeTokenizer(BpeVocabulary vocabulary, Pretokenizer pretokenizer)
    : tokens_(std::move(vocabulary.tokens)),
      ignore_merges_(vocabulary.ignore_merges),
      normalization_(vocabulary.normalization),
      pretokenizer_(std::move(pretokenizer)) {
  vocab_size_ = static_cast<int32_t>(tokens_.size());
  bos_id_ = vocabulary.bos_id;
  eos_id_ = vocabulary.eos_id;
  add_bos_ = vocabulary.add_bos;
  SetSpecialTokens(tokens_, vocabulary.types, vocabulary.special_token_strips);

  token_bytes_.reserve(tokens_.size());
  normal_ids_.reserve(tokens_.size());
  for (int32_t id = 0; id < vocab_size_; ++id) {
    token_bytes_.push_back(BytesOf(tokens_[id], vocabulary.types[id]));
    // The first of duplicate entries wins.
    if (vocabulary.types[id] == TokenType::kNormal) normal_ids_.try_emplace(tokens_[id], id);
  }
  byte_ids_.assign(256, -1);
  for (int byte = 0; byte < 256; ++byte) {
    const auto it = normal_ids_.find(ByteLevelCharacter(byte));
    if (it != normal_ids_.end()) byte_ids_[byte] = it->second;
  }

  merges_.reserve(vocabulary.merges.size());
  std::string merged;
  for (size_t rank = 0; rank < vocabulary.merges.size() && rank <= INT32_MAX; ++rank) {
    const auto& [left, right] = vocabulary.merges[rank];
    merged.assign(left).append(right);
    const auto left_it = normal_ids_.find(left);
    const auto right_it = normal_ids_.find(right);
    const auto merged_it = normal_ids_.find(merged);
    if (left_it == normal_ids_.end() || right_it == normal_ids_.end() ||
        merged_it == normal_ids_.end()) {
      continue;
    }
    // A repeated rule keeps its best rank.
    merges_.try_emplace(PairKey(left_it->second, right_it->second),
                        Merge{static_cast<int32_t>(rank), merged_it->second});
  }
}

std::optional<BpeTokenizer::Merge> BpeTokenizer::FindMerge(int32_t left, int32_t right) const {
  const auto it = merges_.find(PairKey(left, right));
  if (it == merges_.end()) return std::nullopt;
  return it->second;
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view text) const {
  std::string normalized;
  if (normalization_ != Normalization::kNone) {
    normalized = Normalize(text, normalization_);
    text = normalized;
  }
  std::vector<int32_t> ids;
  for (std::string_view piece : pretokenizer_.Split(text)) EncodePiece(piece, ids);
  return ids;
}

void BpeTokenizer::EncodePiece(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    const auto it = normal_ids_.find(ToByteLevel(piece));
    if (it != normal_ids_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  // The piece as a doubly linked list of tokens, one per byte to begin with; a merge turns the
  // left token into the merged one and unlinks the right one (id -1).
  struct Symbol {
    int32_t id;
    int prev;
    int next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  for (char byte : piece) {
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({byte_ids_[static_cast<uint8_t>(byte)], index - 1, index + 1});
  }
  symbols.back().next = -1;

  // Candidate merges of adjacent tokens, best first: lowest rank, then leftmost.
  struct Candidate {
    Merge merge;
    int left;
    int right;
    int32_t left_id;  // the ids when proposed; a mismatch marks the candidate stale
    int32_t right_id;
  };
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.merge.rank > b.merge.rank || (a.merge.rank == b.merge.rank && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> candidates(worse);
  auto propose = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[left].id, right_id = symbols[right].id;
    if (const auto merge = FindMerge(left_id, right_id)) {
      candidates.push({*merge, left, right, left_id, right_id});
    }
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) propose(i - 1, i);

  while (!candidates.empty()) {
    const Candidate best = candidates.top();
    candidates.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    // Either side may have been merged into something else since this pair was proposed.
    if (left.id != best.left_id || right.id != best.right_id || left.next != best.right) continue;
    left.id = best.merge.result;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = best.left;
    propose(left.prev, best.left);
    propose(best.left, left.next);
  }
  for (int i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

std::string BpeTokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size_) return "";
  return token_bytes_[id];
}

std::string_view BpeTokenizer::TokenText(int32_t id) const {
  if (id < 0 || id >= vocab_size_) return "";
  return tokens_[id];
}

}  // namespace tessera
