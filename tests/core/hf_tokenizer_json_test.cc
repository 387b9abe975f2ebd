// Tokenizers read from Hugging Face tokenizer.json files (the shared test data) and from the
// GGUF files converted from them, checked against llama.cpp's reference vectors.
#include "core/tokenizer/hf_tokenizer_json.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/hf_tokenizer_to_gguf.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"
#include "tests/core/tokenizer_reference_cases.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string SharedPath(const std::string& relative) {
  return std::string(TESSERA_SHARED_TESTDATA_DIR) + "/" + relative;
}

#define SKIP_WITHOUT_SHARED_FILE(path)                                             \
  if (!std::filesystem::exists(path)) {                                            \
    GTEST_SKIP() << "the shared test data is absent (" << (path) << " not found)"; \
  }

// One tokenizer.json and the llama.cpp vectors for the same vocabulary.
struct ReferenceVocabulary {
  std::string name;
  std::string tokenizer_json;  // under the shared test data
  std::string vectors;         // under tests/data/tokenizer, without .inp/.out
};

const ReferenceVocabulary kLlama3 = {"Llama3", "hf/llama3/tokenizer.json",
                                     "ggml-vocab-llama-bpe.gguf"};
const ReferenceVocabulary kQwen2 = {"Qwen2", "hf/qwen3/tokenizer.json", "ggml-vocab-qwen2.gguf"};
const ReferenceVocabulary kPhi3 = {"Phi3", "hf/phi3/tokenizer.json", "ggml-vocab-phi-3.gguf"};

std::unique_ptr<Tokenizer> LoadFromJson(const std::string& tokenizer_json) {
  auto tokenizer = TokenizerFromHfJson(SharedPath(tokenizer_json));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

// Converts the tokenizer.json into a GGUF in the test's scratch space and loads that. The file
// is named as llama.cpp names its vocabulary files ("Phi3") unless `general_name` says otherwise;
// llama.cpp's rule that gives Phi-3's special tokens their rstrip goes by that name.
std::unique_ptr<Tokenizer> LoadThroughGguf(const ReferenceVocabulary& reference,
                                           const std::string& general_name) {
  auto vocabulary = ReadHfTokenizer(SharedPath(reference.tokenizer_json));
  EXPECT_TRUE(vocabulary.ok()) << vocabulary.status();
  if (!vocabulary.ok()) return nullptr;
  gguf::GgufWriter writer;
  writer.AddString("general.name", general_name);
  const absl::Status converted = AddVocabularyToGguf(*vocabulary, writer);
  EXPECT_TRUE(converted.ok()) << converted;
  if (!converted.ok()) return nullptr;
  const testing::ScratchFile gguf_file("vocab.gguf");
  const absl::Status written = writer.WriteFile(gguf_file.path());
  EXPECT_TRUE(written.ok()) << written;
  if (!written.ok()) return nullptr;
  auto file = gguf::GgufFile::Open(gguf_file.path());
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return nullptr;
  auto tokenizer = TokenizerFromGguf(**file);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

std::unique_ptr<Tokenizer> LoadThroughGguf(const ReferenceVocabulary& reference) {
  return LoadThroughGguf(reference, reference.name);
}

std::vector<testing::ReferenceCase> ReadVectors(const ReferenceVocabulary& vocabulary) {
  const std::string base = std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/" + vocabulary.vectors;
  return testing::ReadReferenceCases(base + ".inp", base + ".out");
}

void ExpectEncodesLikeReference(const Tokenizer& tokenizer,
                                const std::vector<testing::ReferenceCase>& cases) {
  ASSERT_EQ(cases.size(), 47u);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(tokenizer.Encode(cases[i].text), cases[i].ids)
        << "case " << i << ": \"" << cases[i].text << "\"";
  }
}

class HfReferenceTest : public ::testing::TestWithParam<ReferenceVocabulary> {};

TEST_P(HfReferenceTest, TokenizerJsonEncodesLikeTheHuggingFaceTokenizer) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadFromJson(GetParam().tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  ExpectEncodesLikeReference(*tokenizer, ReadVectors(GetParam()));
}

TEST_P(HfReferenceTest, ConvertedGgufEncodesLikeTheHuggingFaceTokenizer) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadThroughGguf(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  ExpectEncodesLikeReference(*tokenizer, ReadVectors(GetParam()));
}

// Every reference string round-trips (the SentencePiece-style one at the text start).
TEST_P(HfReferenceTest, DecodeOfEncodeGivesTheTextBack) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadFromJson(GetParam().tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  for (const testing::ReferenceCase& reference : ReadVectors(GetParam())) {
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(reference.text), /*at_text_start=*/true),
              reference.text);
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, HfReferenceTest, ::testing::Values(kLlama3, kQwen2, kPhi3),
                         [](const auto& info) { return info.param.name; });

// Special token ids and settings as tokenizer_config.json and the added tokens state them.
TEST(HfTokenizerJsonTest, ReadsLlama3SpecialTokens) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kLlama3.tokenizer_json));
  auto tokenizer = LoadFromJson(kLlama3.tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 128256);
  EXPECT_EQ(tokenizer->bos_id(), 128000);  // <|begin_of_text|>
  EXPECT_EQ(tokenizer->eos_id(), 128001);  // <|end_of_text|>
  // The config does not say; llama.cpp adds BOS for Llama 3's pre-tokenizer.
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->TokenText(128009), "<|eot_id|>");
  EXPECT_EQ(tokenizer->TokenBytes(128009), "") << "control tokens are hidden in text";
  EXPECT_EQ(tokenizer->TokenBytes(9906), "Hello");
}

TEST(HfTokenizerJsonTest, ReadsQwenSpecialTokens) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kQwen2.tokenizer_json));
  auto tokenizer = LoadFromJson(kQwen2.tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 151669);  // 151643 + 26 added
  EXPECT_EQ(tokenizer->bos_id(), std::nullopt);
  EXPECT_EQ(tokenizer->eos_id(), 151645);  // <|im_end|>
  EXPECT_FALSE(tokenizer->add_bos());
  // "<think>" is added but not special: user-defined, so it shows in text.
  EXPECT_EQ(tokenizer->TokenText(151667), "<think>");
  EXPECT_EQ(tokenizer->TokenBytes(151667), "<think>");
}

TEST(HfTokenizerJsonTest, ReadsPhi3AsSentencePieceStyle) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kPhi3.tokenizer_json));
  auto tokenizer = LoadFromJson(kPhi3.tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 32011);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 32000);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_TRUE(tokenizer->strips_leading_space());
}

// llama.cpp converted the same Phi-3 tokenizer to tests/data's GGUF (from the SentencePiece
// model); the vocabulary read from tokenizer.json must agree with it entry by entry.
TEST(HfTokenizerJsonTest, Phi3VocabularyMatchesLlamaCppsConversion) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kPhi3.tokenizer_json));
  auto vocabulary = ReadHfTokenizer(SharedPath(kPhi3.tokenizer_json));
  ASSERT_TRUE(vocabulary.ok()) << vocabulary.status();
  const auto* spm = std::get_if<SpmVocabulary>(&*vocabulary);
  ASSERT_NE(spm, nullptr);
  auto file =
      gguf::GgufFile::Open(std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokens = (*file)->GetStringArray("tokenizer.ggml.tokens");
  auto types = (*file)->GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens.ok() && types.ok());
  // The GGUF pads the vocabulary to the model's 32064 embedding rows.
  ASSERT_EQ(spm->tokens.size(), 32011u);
  for (size_t id = 0; id < spm->tokens.size(); ++id) {
    EXPECT_EQ(spm->tokens[id], (*tokens)[id]) << "token " << id;
    EXPECT_EQ(static_cast<int64_t>(spm->types[id]), (*types)[id]) << "type of token " << id;
  }
  EXPECT_EQ(spm->unknown_id, 0);
  EXPECT_EQ(spm->bos_id, 1);
  EXPECT_EQ(spm->eos_id, 32000);
  EXPECT_TRUE(spm->add_bos);
  EXPECT_TRUE(spm->add_space_prefix);
}

// The model vocabulary of a tokenizer.json: token text -> id.
nlohmann::json ModelVocabulary(const std::string& tokenizer_json) {
  std::ifstream in(SharedPath(tokenizer_json));
  return nlohmann::json::parse(in)["model"]["vocab"];
}

// Ids of `pieces` read off the vocabulary; for texts whose every piece is itself a token.
std::vector<int32_t> VocabularyIds(const nlohmann::json& vocab,
                                   const std::vector<std::string>& pieces) {
  std::vector<int32_t> ids;
  for (const std::string& piece : pieces) {
    EXPECT_TRUE(vocab.contains(piece)) << "\"" << piece << "\" is not a token";
    ids.push_back(vocab.contains(piece) ? vocab[piece].get<int32_t>() : -1);
  }
  return ids;
}

// Llama 3 takes a piece that is a whole token as that token (ignore_merges), so these follow
// from the split regex and the vocabulary alone. The pieces are split by hand and written in
// the byte-level alphabet ("Ġ" a space, "Ċ" a newline, "č" a carriage return).
TEST(HfTokenizerJsonTest, Llama3HandDerivedCases) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kLlama3.tokenizer_json));
  auto tokenizer = LoadFromJson(kLlama3.tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  const nlohmann::json vocab = ModelVocabulary(kLlama3.tokenizer_json);
  auto expect = [&](const std::string& text, const std::vector<std::string>& pieces) {
    EXPECT_EQ(tokenizer->Encode(text), VocabularyIds(vocab, pieces)) << "\"" << text << "\"";
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(text), true), text);
  };
  expect("1234567890", {"123", "456", "789", "0"});  // digits in threes
  expect("I'M don't", {"I", "'M", "Ġdon", "'t"});    // contractions in any case
  expect("Hello\r\nWorld", {"Hello", "čĊ", "World"});
  expect("Hello  \nWorld", {"Hello", "ĠĠĊ", "World"});  // spaces join the newline after them
  expect("   hello", {"ĠĠ", "Ġhello"});                 // the last space goes with the word
  expect("été été", {"Ã©tÃ©", "ĠÃ©tÃ©"});               // é is C3 A9
}

// Qwen2 splits every digit apart, and each digit is a token.
TEST(HfTokenizerJsonTest, QwenHandDerivedCases) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kQwen2.tokenizer_json));
  auto tokenizer = LoadFromJson(kQwen2.tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Encode("20250101"), VocabularyIds(ModelVocabulary(kQwen2.tokenizer_json),
                                                         {"2", "0", "2", "5", "0", "1", "0", "1"}));
}

// Cases of our own (tests/data/tokenizer/tokenizer-hard-cases.inp), some with special tokens in
// them, with what the Hugging Face tokenizer makes of them (make_hard_cases.py writes both files
// with the Hugging Face `tokenizers` library; tests/data/SOURCES.md).
std::string HardCasesPath(const std::string& suffix) {
  return std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/tokenizer-hard-cases" + suffix;
}

// The ids, as encoding with special tokens gives them.
std::vector<testing::ReferenceCase> ReadHardCases(const ReferenceVocabulary& vocabulary) {
  return testing::ReadReferenceCases(HardCasesPath(".inp"),
                                     HardCasesPath("." + vocabulary.name + ".out"));
}

// The text the reference decodes its ids to, with special tokens hidden.
std::vector<std::string> ReadHardCasesDecoded(const ReferenceVocabulary& vocabulary) {
  return testing::ReadReferenceTexts(HardCasesPath("." + vocabulary.name + ".decoded"));
}

void ExpectEncodesHardCasesLikeReference(const Tokenizer& tokenizer,
                                         const std::vector<testing::ReferenceCase>& cases) {
  ASSERT_EQ(cases.size(), 50u);
  for (const testing::ReferenceCase& reference : cases) {
    EXPECT_EQ(tokenizer.EncodeWithSpecialTokens(reference.text), reference.ids)
        << "\"" << reference.text << "\"";
  }
}

TEST_P(HfReferenceTest, HardCasesEncodeLikeTheHuggingFaceTokenizer) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadFromJson(GetParam().tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  ExpectEncodesHardCasesLikeReference(*tokenizer, ReadHardCases(GetParam()));
}

TEST_P(HfReferenceTest, ConvertedGgufEncodesHardCasesLikeTheHuggingFaceTokenizer) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadThroughGguf(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  ExpectEncodesHardCasesLikeReference(*tokenizer, ReadHardCases(GetParam()));
}

// The strips travel in the file (special_token_strip_keys.h), so a Phi-3 vocabulary whose name
// llama.cpp's rule does not recognise still strips after its chat tokens.
TEST_P(HfReferenceTest, ConvertedGgufNotNamedAfterTheModelEncodesHardCasesLikeTheReference) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadThroughGguf(GetParam(), "my-finetune");
  ASSERT_NE(tokenizer, nullptr);
  ExpectEncodesHardCasesLikeReference(*tokenizer, ReadHardCases(GetParam()));
}

TEST_P(HfReferenceTest, HardCasesDecodeLikeTheHuggingFaceTokenizer) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadFromJson(GetParam().tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<testing::ReferenceCase> cases = ReadHardCases(GetParam());
  const std::vector<std::string> decoded = ReadHardCasesDecoded(GetParam());
  ASSERT_EQ(decoded.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(tokenizer->Decode(cases[i].ids, /*at_text_start=*/true), decoded[i])
        << "\"" << cases[i].text << "\"";
  }
}

// Only where the reference gives the text back: normalization changes text, special tokens are
// hidden and stripped whitespace is gone.
TEST_P(HfReferenceTest, HardCasesRoundTripWhereTheReferenceDoes) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(GetParam().tokenizer_json));
  auto tokenizer = LoadFromJson(GetParam().tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<testing::ReferenceCase> cases = ReadHardCases(GetParam());
  const std::vector<std::string> decoded = ReadHardCasesDecoded(GetParam());
  ASSERT_EQ(decoded.size(), cases.size());
  int round_trips = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (decoded[i] != cases[i].text) continue;
    ++round_trips;
    EXPECT_EQ(tokenizer->Decode(tokenizer->EncodeWithSpecialTokens(cases[i].text), true),
              cases[i].text);
  }
  EXPECT_GE(round_trips, 30) << "the cases without special tokens or NFC changes round-trip";
}

// Small tokenizer.json files written here, for what the real ones do not show.
nlohmann::json ByteLevelJson() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) {
    vocab[std::string(ByteLevelCharacter(static_cast<uint8_t>(byte)))] = byte;
  }
  vocab["he"] = 256;
  vocab["hel"] = 257;
  return {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h e", {"he", "l"}}}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"added_tokens",
       {{{"id", 259}, {"content", "<|end|>"}, {"special", true}},
        {{"id", 260}, {"content", "<note>"}, {"special", false}}}},
  };
}

template <typename Vocabulary>
Vocabulary ParseAs(const nlohmann::json& tokenizer_json, const nlohmann::json& config = {}) {
  auto parsed = ParseHfTokenizer(tokenizer_json.dump(), config.is_null() ? "" : config.dump());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  EXPECT_TRUE(std::holds_alternative<Vocabulary>(*parsed));
  return std::holds_alternative<Vocabulary>(*parsed) ? std::get<Vocabulary>(*parsed) : Vocabulary{};
}

TEST(HfTokenizerJsonTest, ReadsAByteLevelVocabulary) {
  const BpeVocabulary vocabulary = ParseAs<BpeVocabulary>(ByteLevelJson());
  ASSERT_EQ(vocabulary.tokens.size(), 261u);
  EXPECT_EQ(vocabulary.tokens[256], "he");
  // Id 258 is named by nothing.
  EXPECT_EQ(vocabulary.tokens[258], "[PAD258]");
  EXPECT_EQ(vocabulary.types[258], TokenType::kUnused);
  EXPECT_EQ(vocabulary.tokens[259], "<|end|>");
  EXPECT_EQ(vocabulary.types[259], TokenType::kControl);
  EXPECT_EQ(vocabulary.types[260], TokenType::kUserDefined);
  EXPECT_EQ(vocabulary.types[0], TokenType::kNormal);
  using Merge = std::pair<std::string, std::string>;
  EXPECT_THAT(vocabulary.merges, ElementsAre(Merge("h", "e"), Merge("he", "l")));
  // ByteLevel with use_regex splits with GPT-2's regex.
  EXPECT_THAT(vocabulary.split_regexes, ElementsAre(std::string(kGpt2SplitRegex)));
  EXPECT_FALSE(vocabulary.ignore_merges);
  EXPECT_FALSE(vocabulary.add_bos);
}

TEST(HfTokenizerJsonTest, ReadsBosAndEosFromTheConfig) {
  nlohmann::json config = {{"bos_token", {{"content", "<|end|>"}, {"__type", "AddedToken"}}},
                           {"eos_token", "<note>"},
                           {"add_bos_token", true}};
  const BpeVocabulary vocabulary = ParseAs<BpeVocabulary>(ByteLevelJson(), config);
  EXPECT_EQ(vocabulary.bos_id, 259);
  EXPECT_EQ(vocabulary.eos_id, 260);
  EXPECT_TRUE(vocabulary.add_bos);
}

TEST(HfTokenizerJsonTest, AddsBosWhenThePostProcessorPutsItFirst) {
  nlohmann::json tokenizer_json = ByteLevelJson();
  tokenizer_json["post_processor"] = {{"type", "Sequence"},
                                      {"processors",
                                       {{{"type", "ByteLevel"}},
                                        {{"type", "TemplateProcessing"},
                                         {"single",
                                          {{{"SpecialToken", {{"id", "<|end|>"}, {"type_id", 0}}}},
                                           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}}}};
  const BpeVocabulary vocabulary = ParseAs<BpeVocabulary>(tokenizer_json);
  EXPECT_EQ(vocabulary.bos_id, 259);
  EXPECT_TRUE(vocabulary.add_bos);
  // The config, when it says, wins.
  const BpeVocabulary configured =
      ParseAs<BpeVocabulary>(tokenizer_json, {{"add_bos_token", false}});
  EXPECT_FALSE(configured.add_bos);
}

TEST(HfTokenizerJsonTest, SplitRegexesComeBeforeByteLevel) {
  nlohmann::json tokenizer_json = ByteLevelJson();
  tokenizer_json["pre_tokenizer"] = {{"type", "Sequence"},
                                     {"pretokenizers",
                                      {{{"type", "Split"},
                                        {"pattern", {{"Regex", "\\p{N}"}}},
                                        {"behavior", "Isolated"},
                                        {"invert", false}},
                                       {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  tokenizer_json["model"]["ignore_merges"] = true;
  const BpeVocabulary vocabulary = ParseAs<BpeVocabulary>(tokenizer_json);
  EXPECT_THAT(vocabulary.split_regexes, ElementsAre("\\p{N}"));
  EXPECT_TRUE(vocabulary.ignore_merges);
}

TEST(HfTokenizerJsonTest, ReadsTheNfcNormalizer) {
  EXPECT_EQ(ParseAs<BpeVocabulary>(ByteLevelJson()).normalization, Normalization::kNone);
  nlohmann::json nfc = ByteLevelJson();
  nfc["normalizer"] = {{"type", "NFC"}};
  EXPECT_EQ(ParseAs<BpeVocabulary>(nfc).normalization, Normalization::kNfc);
  nlohmann::json sequence = ByteLevelJson();
  sequence["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
  EXPECT_EQ(ParseAs<BpeVocabulary>(sequence).normalization, Normalization::kNfc);
}

TEST(HfTokenizerJsonTest, ReadsAddedTokensLstripAndRstrip) {
  nlohmann::json tokenizer_json = ByteLevelJson();
  tokenizer_json["added_tokens"][0]["lstrip"] = true;
  tokenizer_json["added_tokens"][1]["rstrip"] = true;
  const BpeVocabulary vocabulary = ParseAs<BpeVocabulary>(tokenizer_json);
  ASSERT_EQ(vocabulary.special_token_strips.size(), 261u);
  EXPECT_TRUE(vocabulary.special_token_strips[259].left);  // <|end|>
  EXPECT_FALSE(vocabulary.special_token_strips[259].right);
  EXPECT_FALSE(vocabulary.special_token_strips[260].left);  // <note>
  EXPECT_TRUE(vocabulary.special_token_strips[260].right);
  EXPECT_FALSE(vocabulary.special_token_strips[256].left);  // "he", from model.vocab
  EXPECT_FALSE(vocabulary.special_token_strips[256].right);
}

// Qwen's file declares NFC; Phi-3's gives its chat tokens and </s> rstrip (its added_tokens).
TEST(HfTokenizerJsonTest, ReadsQwenNormalizerAndPhi3Strips) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kQwen2.tokenizer_json));
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kPhi3.tokenizer_json));
  auto qwen = ReadHfTokenizer(SharedPath(kQwen2.tokenizer_json));
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  EXPECT_EQ(std::get<BpeVocabulary>(*qwen).normalization, Normalization::kNfc);
  auto phi3 = ReadHfTokenizer(SharedPath(kPhi3.tokenizer_json));
  ASSERT_TRUE(phi3.ok()) << phi3.status();
  const SpmVocabulary& spm = std::get<SpmVocabulary>(*phi3);
  EXPECT_EQ(spm.normalization, Normalization::kNone);
  ASSERT_EQ(spm.special_token_strips.size(), 32011u);
  for (int32_t id : {2, 32001, 32006, 32007, 32010}) {  // </s>, <|assistant|>, <|system|>, ...
    EXPECT_TRUE(spm.special_token_strips[id].right) << spm.tokens[id];
  }
  for (int32_t id : {0, 1, 32000}) {  // <unk>, <s>, <|endoftext|>
    EXPECT_FALSE(spm.special_token_strips[id].right) << spm.tokens[id];
  }
  for (const SpecialTokenStrip& strip : spm.special_token_strips) EXPECT_FALSE(strip.left);
}

void ExpectUnsupported(const nlohmann::json& tokenizer_json, const std::string& message_part) {
  auto parsed = ParseHfTokenizer(tokenizer_json.dump(), "");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kUnimplemented) << parsed.status();
  EXPECT_EQ(ErrorReasonOf(parsed.status()), std::string(reason::kUnsupportedArchitecture));
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(message_part));
}

TEST(HfTokenizerJsonTest, RejectsWhatItDoesNotSupport) {
  nlohmann::json word_piece = ByteLevelJson();
  word_piece["model"]["type"] = "WordPiece";
  ExpectUnsupported(word_piece, "\"WordPiece\"");

  nlohmann::json nfkc = ByteLevelJson();
  nfkc["normalizer"] = {{"type", "NFKC"}};
  ExpectUnsupported(nfkc, "NFKC");

  nlohmann::json whitespace = ByteLevelJson();
  whitespace["pre_tokenizer"] = {{"type", "Whitespace"}};
  ExpectUnsupported(whitespace, "Whitespace");

  nlohmann::json removed = ByteLevelJson();
  removed["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Removed"}},
        {{"type", "ByteLevel"}}}}};
  ExpectUnsupported(removed, "Removed");

  nlohmann::json prefix_space = ByteLevelJson();
  prefix_space["pre_tokenizer"]["add_prefix_space"] = true;
  ExpectUnsupported(prefix_space, "add_prefix_space");

  nlohmann::json suffix = ByteLevelJson();
  suffix["model"]["end_of_word_suffix"] = "</w>";
  ExpectUnsupported(suffix, "suffix");
}

TEST(HfTokenizerJsonTest, RejectsMalformedFiles) {
  EXPECT_TRUE(testing::IsInvalidModelFile(ParseHfTokenizer("{\"model\": ", "").status(),
                                          "tokenizer.json is not a JSON object"));
  EXPECT_TRUE(testing::IsInvalidModelFile(ParseHfTokenizer("[1]", "").status(),
                                          "tokenizer.json is not a JSON object (it is an array)"));
  EXPECT_TRUE(testing::IsInvalidModelFile(
      ParseHfTokenizer(ByteLevelJson().dump(), R"({"a": 1, "a": 2})").status(),
      "tokenizer_config.json is not a JSON object"));
  EXPECT_TRUE(testing::IsInvalidModelFile(ParseHfTokenizer("{}", "").status(), "no model"));

  nlohmann::json bad_merge = ByteLevelJson();
  bad_merge["model"]["merges"] = {"h e", "hel"};
  EXPECT_TRUE(
      testing::IsInvalidModelFile(ParseHfTokenizer(bad_merge.dump(), "").status(), "\"hel\""));

  nlohmann::json negative_id = ByteLevelJson();
  negative_id["model"]["vocab"]["he"] = -1;
  EXPECT_TRUE(
      testing::IsInvalidModelFile(ParseHfTokenizer(negative_id.dump(), "").status(), "\"he\""));

  EXPECT_TRUE(testing::IsInvalidModelFile(
      ParseHfTokenizer(ByteLevelJson().dump(), R"({"eos_token": "<missing>"})").status(),
      "\"<missing>\" is not a token"));
}

TEST(HfTokenizerJsonTest, MissingFileIsNotFound) {
  auto tokenizer = TokenizerFromHfJson(testing::ScratchPath("absent/tokenizer.json"));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(tokenizer.status()), std::string(reason::kModelFileNotFound));
}

// A SentencePiece-style file (spaces escaped as "▁" by a Metaspace pre-tokenizer): merge ranks
// become scores, so the earliest rule's piece scores highest.
TEST(HfTokenizerJsonTest, ReadsASentencePieceStyleVocabulary) {
  nlohmann::json vocab = {{"<unk>", 0}, {"▁", 1}, {"a", 2}, {"b", 3}, {"▁a", 4}, {"ab", 5}};
  const nlohmann::json tokenizer_json = {
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", {"a b", "▁ a"}},
        {"unk_token", "<unk>"},
        {"byte_fallback", false}}},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", "▁"},
        {"prepend_scheme", "first"},
        {"split", false}}},
  };
  const SpmVocabulary vocabulary = ParseAs<SpmVocabulary>(tokenizer_json);
  ASSERT_EQ(vocabulary.tokens.size(), 6u);
  EXPECT_EQ(vocabulary.unknown_id, 0);
  EXPECT_EQ(vocabulary.types[0], TokenType::kUnknown);
  EXPECT_TRUE(vocabulary.add_space_prefix);
  EXPECT_EQ(vocabulary.scores[5], 0);   // "ab": rule 0
  EXPECT_EQ(vocabulary.scores[4], -1);  // "▁a": rule 1
  EXPECT_LT(vocabulary.scores[2], -1);  // "a": no rule forms it

  auto tokenizer = TokenizerFromVocabulary(vocabulary);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // "▁ab": "a b" (rank 0) merges before "▁ a" (rank 1).
  EXPECT_THAT((*tokenizer)->Encode("ab"), ElementsAre(1, 5));
}

TEST(HfTokenizerToGgufTest, WritesTheLlama3PreTokenizerName) {
  SKIP_WITHOUT_SHARED_FILE(SharedPath(kLlama3.tokenizer_json));
  const std::string gguf_path = testing::ScratchPath("llama3.gguf");
  ASSERT_TRUE(ConvertHfTokenizerToGguf(SharedPath(kLlama3.tokenizer_json), gguf_path).ok());
  auto file = gguf::GgufFile::Open(gguf_path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->GetString("tokenizer.ggml.model").value_or(""), "gpt2");
  EXPECT_EQ((*file)->GetString("tokenizer.ggml.pre").value_or(""), "llama-bpe");
  EXPECT_EQ((*file)->GetInt("tokenizer.ggml.bos_token_id").value_or(-1), 128000);
  EXPECT_EQ((*file)->GetInt("tokenizer.ggml.eos_token_id").value_or(-1), 128001);
  EXPECT_TRUE((*file)->GetBool("tokenizer.ggml.add_bos_token").value_or(false));
  auto merges = (*file)->GetStringArray("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.ok());
  EXPECT_EQ(merges->size(), 280147u);
  EXPECT_EQ((*merges)[0], "Ġ Ġ");
  EXPECT_TRUE((*file)->tensors().empty());
}

// Written for every vocabulary, so that a file without it keeps meaning what tokenizer.ggml.pre
// implies.
TEST(HfTokenizerToGgufTest, WritesTheNormalizer) {
  for (const ReferenceVocabulary& reference : {kQwen2, kLlama3, kPhi3}) {
    SKIP_WITHOUT_SHARED_FILE(SharedPath(reference.tokenizer_json));
    const testing::ScratchFile gguf_file(reference.name + ".gguf");
    ASSERT_TRUE(
        ConvertHfTokenizerToGguf(SharedPath(reference.tokenizer_json), gguf_file.path()).ok());
    auto file = gguf::GgufFile::Open(gguf_file.path());
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ((*file)->GetString("tokenizer.ggml.normalizer").value_or(""),
              reference.name == "Qwen2" ? "nfc" : "none")
        << reference.name;
  }
}

// The ids of the added tokens whose `flag` ("lstrip" or "rstrip") is true, read off the
// tokenizer.json itself.
std::vector<int64_t> AddedTokenIdsWith(const std::string& tokenizer_json, const std::string& flag) {
  std::ifstream in(SharedPath(tokenizer_json));
  const nlohmann::json parsed = nlohmann::json::parse(in);
  std::vector<int64_t> ids;
  for (const nlohmann::json& token : parsed["added_tokens"]) {
    if (token.value(flag, false)) ids.push_back(token["id"].get<int64_t>());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Every converted file has both strip keys, listing the added tokens that strip.
TEST(HfTokenizerToGgufTest, WritesTheAddedTokensStrips) {
  for (const ReferenceVocabulary& reference : {kQwen2, kLlama3, kPhi3}) {
    SKIP_WITHOUT_SHARED_FILE(SharedPath(reference.tokenizer_json));
    const testing::ScratchFile gguf_file(reference.name + ".gguf");
    ASSERT_TRUE(
        ConvertHfTokenizerToGguf(SharedPath(reference.tokenizer_json), gguf_file.path()).ok());
    auto file = gguf::GgufFile::Open(gguf_file.path());
    ASSERT_TRUE(file.ok()) << file.status();
    for (const std::string flag : {"lstrip", "rstrip"}) {
      const std::string key = "tokenizer.ggml." + flag + "_token_ids";
      auto ids = (*file)->GetIntArray(key);
      ASSERT_TRUE(ids.ok()) << ids.status();
      EXPECT_EQ(*ids, AddedTokenIdsWith(reference.tokenizer_json, flag)) << reference.name;
    }
  }
  // Phi-3's chat tokens and </s> (hand-read from its added_tokens), for a check on the reading.
  EXPECT_THAT(AddedTokenIdsWith(kPhi3.tokenizer_json, "rstrip"),
              ElementsAre(2, 32001, 32002, 32003, 32004, 32005, 32006, 32007, 32008, 32009, 32010));
}

TEST(HfTokenizerToGgufTest, RejectsSplitRegexesWithoutAGgufName) {
  nlohmann::json tokenizer_json = ByteLevelJson();
  tokenizer_json["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}"}}}, {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  auto vocabulary = ParseHfTokenizer(tokenizer_json.dump(), "");
  ASSERT_TRUE(vocabulary.ok()) << vocabulary.status();
  gguf::GgufWriter writer;
  const absl::Status status = AddVocabularyToGguf(*vocabulary, writer);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("\\p{N}"));
}

}  // namespace
}  // namespace tessera
