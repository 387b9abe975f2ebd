#include "core/tokenizer/vocabulary.h"

#include <string>
#include <utility>
#include <vector>

#include "core/util/status_macros.h"

namespace tessera {

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromVocabulary(Vocabulary vocabulary) {
  if (auto* bpe = std::get_if<BpeVocabulary>(&vocabulary)) {
    // BpeTokenizer sets its special tokens itself.
    TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> tokenizer,
                             BpeTokenizer::Create(std::move(*bpe)));
    return tokenizer;
  }
  SpmVocabulary& spm = std::get<SpmVocabulary>(vocabulary);
  // Create takes the vocabulary; keep what SetSpecialTokens needs.
  const std::vector<std::string> texts = spm.tokens;
  const std::vector<TokenType> types = spm.types;
  const std::vector<SpecialTokenStrip> strips = spm.special_token_strips;
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<SpmTokenizer> tokenizer,
                           SpmTokenizer::Create(std::move(spm)));
  tokenizer->SetSpecialTokens(texts, types, strips);
  return tokenizer;
}

}  // namespace tessera
