#include "core/tokenizer/hf_tokenizer_json.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/format/json_file.h"
#include "core/format/mapped_file.h"
#include "core/tokenizer/bpe_gguf_pre.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

using Json = nlohmann::json;

// SentencePiece writes a space as U+2581 LOWER ONE EIGHTH BLOCK.
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";
// Ids beyond this are taken for a corrupt file rather than a vocabulary.
constexpr int64_t kMaxTokenId = 1 << 24;

absl::Status Invalid(absl::string_view message) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", message)),
                    reason::kInvalidModelFile);
}

absl::Status Unsupported(absl::string_view what) {
  return WithReason(
      absl::UnimplementedError(absl::StrCat("tokenizer.json: ", what, " is not supported")),
      reason::kUnsupportedArchitecture);
}

// Member `key` of `object`; nullptr when `object` is not an object or the member is absent or
// null.
const Json* Find(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string StringOr(const Json& object, const char* key, std::string fallback) {
  const Json* value = Find(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : fallback;
}

std::optional<bool> OptionalBool(const Json& object, const char* key) {
  const Json* value = Find(object, key);
  if (value == nullptr || !value->is_boolean()) return std::nullopt;
  return value->get<bool>();
}

// The entries of tokenizer.json that name ids: model.vocab and added_tokens. Texts are as the
// file writes them: byte-level or "▁"-escaped for the model's vocabulary, plain for added ones.
struct TokenTable {
  std::vector<std::string> texts;
  std::vector<TokenType> types;
  std::vector<SpecialTokenStrip> strips;  // from added tokens' lstrip and rstrip
};

// `id` as a token id, if it is one.
std::optional<int32_t> TokenId(const Json& id) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
    return std::nullopt;
  }
  return static_cast<int32_t>(id.get<int64_t>());
}

absl::Status BadId(absl::string_view what, const Json& id) {
  return Invalid(absl::StrCat(what, " has id ", id.dump(), ", not an integer in 0..", kMaxTokenId));
}

absl::StatusOr<TokenTable> ReadTokenTable(const Json& root, const Json& model) {
  const Json* vocab = Find(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) return Invalid("model.vocab is not an object");
  struct Entry {
    int32_t id;
    std::string text;
    TokenType type;
    SpecialTokenStrip strip;
  };
  std::vector<Entry> entries;
  entries.reserve(vocab->size());
  for (const auto& [text, id] : vocab->items()) {
    const std::optional<int32_t> checked = TokenId(id);
    if (!checked.has_value()) return BadId(absl::StrCat("token \"", text, "\""), id);
    entries.push_back({*checked, text, TokenType::kNormal, {}});
  }
  if (const Json* added = Find(root, "added_tokens")) {
    if (!added->is_array()) return Invalid("added_tokens is not an array");
    for (const Json& token : *added) {
      const Json* content = Find(token, "content");
      const Json* id = Find(token, "id");
      if (content == nullptr || !content->is_string() || id == nullptr) {
        return Invalid(absl::StrCat("added token ", token.dump(), " lacks a content or an id"));
      }
      const std::optional<int32_t> checked = TokenId(*id);
      if (!checked.has_value()) return BadId(absl::StrCat("added token ", content->dump()), *id);
      const bool special = OptionalBool(token, "special").value_or(false);
      // Matched in the text as written even where "normalized" is true (Hugging Face would match
      // such a token in the normalized text; the tokenizers Tessera knows have none), and
      // "single_word" is not applied.
      entries.push_back({*checked, content->get<std::string>(),
                         special ? TokenType::kControl : TokenType::kUserDefined,
                         {.left = OptionalBool(token, "lstrip").value_or(false),
                          .right = OptionalBool(token, "rstrip").value_or(false)}});
    }
  }
  if (entries.empty()) return Invalid("no tokens");

  TokenTable table;
  int32_t max_id = 0;
  for (const Entry& entry : entries) max_id = std::max(max_id, entry.id);
  table.texts.resize(max_id + 1);
  table.types.assign(max_id + 1, TokenType::kUndefined);
  table.strips.resize(max_id + 1);
  // Added tokens come last, so they override the model's entry for the same id.
  for (Entry& entry : entries) {
    table.texts[entry.id] = std::move(entry.text);
    table.types[entry.id] = entry.type;
    table.strips[entry.id] = entry.strip;
  }
  for (int32_t id = 0; id <= max_id; ++id) {
    if (table.types[id] != TokenType::kUndefined) continue;
    table.texts[id] = absl::StrCat("[PAD", id, "]");
    table.types[id] = TokenType::kUnused;
  }
  return table;
}

// Merge rules as "left right" (older files) or ["left", "right"].
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadMerges(const Json& model) {
  std::vector<std::pair<std::string, std::string>> merges;
  const Json* rules = Find(model, "merges");
  if (rules == nullptr) return merges;
  if (!rules->is_array()) return Invalid("model.merges is not an array");
  merges.reserve(rules->size());
  for (const Json& rule : *rules) {
    if (rule.is_string()) {
      const std::string& text = rule.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space != std::string::npos && text.find(' ', space + 1) == std::string::npos) {
        merges.emplace_back(text.substr(0, space), text.substr(space + 1));
        continue;
      }
    } else if (rule.is_array() && rule.size() == 2 && rule[0].is_string() && rule[1].is_string()) {
      merges.emplace_back(rule[0].get<std::string>(), rule[1].get<std::string>());
      continue;
    }
    return Invalid(absl::StrCat("merge rule ", rule.dump(), " is not a pair of tokens"));
  }
  return merges;
}

// How the normalizer and the pre-tokenizer prepare text for the model.
struct TextHandling {
  Normalization normalization = Normalization::kNone;
  bool byte_level = false;                 // a ByteLevel pre-tokenizer
  std::vector<std::string> split_regexes;  // Split pre-tokenizers, in order, before ByteLevel
  bool spaces_as_marker = false;           // " " becomes "▁"
  bool prepend_marker = false;             // "▁" goes in front of the text
};

absl::Status ReadNormalizer(const Json& normalizer, TextHandling& handling) {
  const std::string type = StringOr(normalizer, "type", "");
  if (type == "Sequence") {
    const Json* parts = Find(normalizer, "normalizers");
    if (parts == nullptr || !parts->is_array()) return Invalid("normalizer Sequence has no list");
    for (const Json& part : *parts) TESSERA_RETURN_IF_ERROR(ReadNormalizer(part, handling));
    return absl::OkStatus();
  }
  if (type == "NFC") {
    handling.normalization = Normalization::kNfc;
    return absl::OkStatus();
  }
  if (type == "Prepend" && StringOr(normalizer, "prepend", "") == kSpaceMarker) {
    handling.prepend_marker = true;
    return absl::OkStatus();
  }
  const Json* pattern = Find(normalizer, "pattern");
  if (type == "Replace" && pattern != nullptr && StringOr(*pattern, "String", "") == " " &&
      StringOr(normalizer, "content", "") == kSpaceMarker) {
    handling.spaces_as_marker = true;
    return absl::OkStatus();
  }
  return Unsupported(absl::StrCat("normalizer ", normalizer.dump()));
}

absl::Status ReadPreTokenizer(const Json& pre_tokenizer, TextHandling& handling) {
  const std::string type = StringOr(pre_tokenizer, "type", "");
  if (type == "Sequence") {
    const Json* parts = Find(pre_tokenizer, "pretokenizers");
    if (parts == nullptr || !parts->is_array()) {
      return Invalid("pre_tokenizer Sequence has no list");
    }
    for (const Json& part : *parts) TESSERA_RETURN_IF_ERROR(ReadPreTokenizer(part, handling));
    return absl::OkStatus();
  }
  if (type == "Split" && !handling.byte_level) {
    const Json* pattern = Find(pre_tokenizer, "pattern");
    const Json* regex = pattern != nullptr ? Find(*pattern, "Regex") : nullptr;
    if (regex != nullptr && regex->is_string() &&
        StringOr(pre_tokenizer, "behavior", "") == "Isolated" &&
        !OptionalBool(pre_tokenizer, "invert").value_or(false)) {
      handling.split_regexes.push_back(regex->get<std::string>());
      return absl::OkStatus();
    }
  }
  if (type == "ByteLevel" && !OptionalBool(pre_tokenizer, "add_prefix_space").value_or(false)) {
    handling.byte_level = true;
    // ByteLevel's own regex is GPT-2's, applied after any Split before it.
    if (OptionalBool(pre_tokenizer, "use_regex").value_or(true)) {
      handling.split_regexes.emplace_back(kGpt2SplitRegex);
    }
    return absl::OkStatus();
  }
  // Splitting at each "▁" is not SentencePiece's behaviour; only the unsplit form is.
  if (type == "Metaspace" && StringOr(pre_tokenizer, "replacement", "") == kSpaceMarker &&
      !OptionalBool(pre_tokenizer, "split").value_or(true)) {
    handling.spaces_as_marker = true;
    const std::string scheme = StringOr(pre_tokenizer, "prepend_scheme", "");
    handling.prepend_marker = scheme.empty()
                                  ? OptionalBool(pre_tokenizer, "add_prefix_space").value_or(true)
                                  : scheme != "never";
    return absl::OkStatus();
  }
  return Unsupported(absl::StrCat("pre_tokenizer ", pre_tokenizer.dump()));
}

// BOS, EOS and whether to add BOS, from tokenizer_config.json and the post-processor.
struct SpecialTokenSettings {
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::optional<bool> add_bos;
};

// The token text a tokenizer_config.json entry names: a string, or an AddedToken object.
std::optional<std::string> ConfigTokenText(const Json& config, const char* key) {
  const Json* value = Find(config, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  if (const Json* content = Find(*value, "content"); content != nullptr && content->is_string()) {
    return content->get<std::string>();
  }
  return std::nullopt;
}

absl::StatusOr<int32_t> IdOfText(const TokenTable& table, const std::string& text,
                                 absl::string_view what) {
  const auto it = std::find(table.texts.begin(), table.texts.end(), text);
  if (it == table.texts.end()) {
    return Invalid(absl::StrCat(what, " \"", text, "\" is not a token"));
  }
  return static_cast<int32_t>(it - table.texts.begin());
}

// The special token a TemplateProcessing post-processor puts in front of a single text.
std::optional<std::string> TemplateBosText(const Json& post_processor) {
  const std::string type = StringOr(post_processor, "type", "");
  if (type == "Sequence") {
    const Json* processors = Find(post_processor, "processors");
    if (processors == nullptr || !processors->is_array()) return std::nullopt;
    for (const Json& processor : *processors) {
      if (auto text = TemplateBosText(processor)) return text;
    }
    return std::nullopt;
  }
  const Json* single = Find(post_processor, "single");
  if (type != "TemplateProcessing" || single == nullptr || !single->is_array() || single->empty()) {
    return std::nullopt;
  }
  const Json* special = Find((*single)[0], "SpecialToken");
  if (special == nullptr) return std::nullopt;
  const Json* id = Find(*special, "id");
  if (id == nullptr || !id->is_string()) return std::nullopt;
  return id->get<std::string>();
}

absl::StatusOr<SpecialTokenSettings> ReadSpecialTokenSettings(const Json& root, const Json& config,
                                                              const TokenTable& table) {
  SpecialTokenSettings settings;
  if (auto text = ConfigTokenText(config, "bos_token")) {
    TESSERA_ASSIGN_OR_RETURN(settings.bos_id, IdOfText(table, *text, "bos_token"));
  }
  if (auto text = ConfigTokenText(config, "eos_token")) {
    TESSERA_ASSIGN_OR_RETURN(settings.eos_id, IdOfText(table, *text, "eos_token"));
  }
  settings.add_bos = OptionalBool(config, "add_bos_token");
  const Json* post_processor = Find(root, "post_processor");
  if (post_processor == nullptr || settings.add_bos.has_value()) return settings;
  if (auto text = TemplateBosText(*post_processor)) {
    settings.add_bos = true;
    if (!settings.bos_id.has_value()) {
      TESSERA_ASSIGN_OR_RETURN(settings.bos_id, IdOfText(table, *text, "post_processor token"));
    }
  }
  return settings;
}

absl::Status CheckModelOptions(const Json& model) {
  if (!StringOr(model, "continuing_subword_prefix", "").empty() ||
      !StringOr(model, "end_of_word_suffix", "").empty()) {
    return Unsupported("a BPE model with a subword prefix or an end-of-word suffix");
  }
  if (const Json* dropout = Find(model, "dropout");
      dropout != nullptr && (!dropout->is_number() || dropout->get<double>() != 0)) {
    return Unsupported("BPE dropout");
  }
  return absl::OkStatus();
}

absl::StatusOr<BpeVocabulary> MakeBpeVocabulary(
    const Json& model, TokenTable table, std::vector<std::pair<std::string, std::string>> merges,
    TextHandling handling, const SpecialTokenSettings& settings) {
  if (OptionalBool(model, "byte_fallback").value_or(false)) {
    return Unsupported("byte_fallback with a ByteLevel pre-tokenizer");
  }
  BpeVocabulary vocabulary;
  vocabulary.tokens = std::move(table.texts);
  vocabulary.types = std::move(table.types);
  vocabulary.special_token_strips = std::move(table.strips);
  vocabulary.merges = std::move(merges);
  vocabulary.split_regexes = std::move(handling.split_regexes);
  vocabulary.normalization = handling.normalization;
  vocabulary.ignore_merges = OptionalBool(model, "ignore_merges").value_or(false);
  vocabulary.bos_id = settings.bos_id;
  vocabulary.eos_id = settings.eos_id;
  if (settings.add_bos.has_value()) {
    vocabulary.add_bos = *settings.add_bos;
  } else if (auto name = BpeGgufPreName(vocabulary.split_regexes, vocabulary.ignore_merges);
             name.ok()) {
    // What llama.cpp assumes for this pre-tokenizer when the file does not say.
    vocabulary.add_bos = BpeGgufPreNamed(*name)->add_bos_by_default && settings.bos_id.has_value();
  }
  return vocabulary;
}

bool IsByteToken(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || !text.ends_with(">")) return false;
  return std::isxdigit(static_cast<unsigned char>(text[3])) &&
         std::isxdigit(static_cast<unsigned char>(text[4]));
}

absl::StatusOr<SpmVocabulary> MakeSpmVocabulary(
    const Json& model, TokenTable table,
    const std::vector<std::pair<std::string, std::string>>& merges, const TextHandling& handling,
    const SpecialTokenSettings& settings) {
  if (OptionalBool(model, "ignore_merges").value_or(false)) {
    return Unsupported("ignore_merges with SentencePiece-style text handling");
  }
  SpmVocabulary vocabulary;
  const bool byte_fallback = OptionalBool(model, "byte_fallback").value_or(false);
  if (const Json* unknown = Find(model, "unk_token"); unknown != nullptr && unknown->is_string()) {
    TESSERA_ASSIGN_OR_RETURN(vocabulary.unknown_id,
                             IdOfText(table, unknown->get<std::string>(), "unk_token"));
  }
  for (size_t id = 0; id < table.texts.size(); ++id) {
    if (table.types[id] != TokenType::kNormal) continue;
    if (byte_fallback && IsByteToken(table.texts[id])) {
      table.types[id] = TokenType::kByte;
    } else if (vocabulary.unknown_id == static_cast<int32_t>(id)) {
      table.types[id] = TokenType::kUnknown;
    }
  }

  // A piece scores minus the rank of the first rule that forms it; pieces no rule forms score
  // below every rule.
  const float not_formed = -static_cast<float>(merges.size()) - 1;
  vocabulary.scores.assign(table.texts.size(), not_formed);
  absl::flat_hash_map<std::string_view, int32_t> normal_ids;
  for (size_t id = 0; id < table.texts.size(); ++id) {
    if (table.types[id] == TokenType::kNormal) normal_ids.try_emplace(table.texts[id], id);
  }
  std::string merged;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    merged.assign(merges[rank].first).append(merges[rank].second);
    const auto it = normal_ids.find(merged);
    if (it == normal_ids.end()) continue;
    float& score = vocabulary.scores[it->second];
    score = std::max(score, -static_cast<float>(rank));
  }

  vocabulary.tokens = std::move(table.texts);
  vocabulary.types = std::move(table.types);
  vocabulary.special_token_strips = std::move(table.strips);
  vocabulary.normalization = handling.normalization;
  vocabulary.bos_id = settings.bos_id;
  vocabulary.eos_id = settings.eos_id;
  // llama.cpp adds BOS for this tokenizer model unless the file says otherwise.
  vocabulary.add_bos = settings.add_bos.value_or(settings.bos_id.has_value());
  vocabulary.add_space_prefix = handling.prepend_marker;
  return vocabulary;
}

// The object the file `name` holds as `text`.
absl::StatusOr<Json> ParseJsonObject(std::string_view text, std::string_view name) {
  absl::StatusOr<Json> json = ParseJson(name, "content", text);
  if (json.ok() && json->is_object()) return json;
  const std::string why = json.ok() ? absl::StrCat("it is ", std::string(JsonTypeName(*json)))
                                    : std::string(json.status().message());
  return WithReason(absl::InvalidArgumentError(
                        absl::StrCat(std::string(name), " is not a JSON object (", why, ")")),
                    reason::kInvalidModelFile);
}

}  // namespace

absl::StatusOr<Vocabulary> ParseHfTokenizer(std::string_view tokenizer_json,
                                              std::string_view tokenizer_config_json) {
  TESSERA_ASSIGN_OR_RETURN(const Json root, ParseJsonObject(tokenizer_json, "tokenizer.json"));
  Json config = Json::object();
  if (!tokenizer_config_json.empty()) {
    TESSERA_ASSIGN_OR_RETURN(config,
                             ParseJsonObject(tokenizer_config_json, "tokenizer_config.json"));
  }
  const Json* model = Find(root, "model");
  if (model == nullptr || !model->is_object()) return Invalid("no model");
  const std::string model_type = StringOr(*model, "type", "BPE");
  if (model_type != "BPE") return Unsupported(absl::StrCat("tokenizer model \"", model_type, "\""));
  TESSERA_RETURN_IF_ERROR(CheckModelOptions(*model));

  TextHandling handling;
  if (const Json* normalizer = Find(root, "normalizer")) {
    TESSERA_RETURN_IF_ERROR(ReadNormalizer(*normalizer, handling));
  }
  if (const Json* pre_tokenizer = Find(root, "pre_tokenizer")) {
    TESSERA_RETURN_IF_ERROR(ReadPreTokenizer(*pre_tokenizer, handling));
  }
  const bool sentencepiece_style = handling.spaces_as_marker || handling.prepend_marker;
  if (handling.byte_level == sentencepiece_style) {
    return Unsupported(
        "text handling that is neither byte-level nor SentencePiece-style (or is both)");
  }
  TESSERA_ASSIGN_OR_RETURN(TokenTable table, ReadTokenTable(root, *model));
  TESSERA_ASSIGN_OR_RETURN(auto merges, ReadMerges(*model));
  TESSERA_ASSIGN_OR_RETURN(const SpecialTokenSettings settings,
                           ReadSpecialTokenSettings(root, config, table));
  if (handling.byte_level) {
    return MakeBpeVocabulary(*model, std::move(table), std::move(merges), std::move(handling),
                             settings);
  }
  if (!handling.split_regexes.empty()) {
    return Unsupported("Split pre-tokenizers with SentencePiece-style text handling");
  }
  return MakeSpmVocabulary(*model, std::move(table), merges, handling, settings);
}

absl::StatusOr<Vocabulary> ReadHfTokenizer(const std::string& tokenizer_json_path) {
  TESSERA_ASSIGN_OR_RETURN(const MappedFile tokenizer_json, MappedFile::Open(tokenizer_json_path));
  const std::filesystem::path config_path =
      std::filesystem::path(tokenizer_json_path).parent_path() / "tokenizer_config.json";
  std::optional<MappedFile> tokenizer_config_json;
  if (std::filesystem::exists(config_path)) {
    absl::StatusOr<MappedFile> config = MappedFile::Open(config_path.string());
    if (!config.ok()) return config.status();
    tokenizer_config_json.emplace(*std::move(config));
  }
  return ParseHfTokenizer(tokenizer_json.bytes(),
                          tokenizer_config_json ? tokenizer_config_json->bytes() : "");
}

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromHfJson(
    const std::string& tokenizer_json_path) {
  TESSERA_ASSIGN_OR_RETURN(Vocabulary vocabulary, ReadHfTokenizer(tokenizer_json_path));
  return TokenizerFromVocabulary(std::move(vocabulary));
}

}  // namespace tessera
