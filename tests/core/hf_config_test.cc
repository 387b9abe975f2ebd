// HfConfig and ReadGenerationConfig on config files written as Hugging Face publishes them
// (Llama 3.1 8B Instruct's config.json and generation_config.json, a Llama 2 style
// generation_config.json with a single eos_token_id), and on mistyped or missing fields, which
// must be INVALID_MODEL_FILE errors naming the file and the key.
#include "core/format/hf_config.h"

#include <string>
#include <vector>

#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera {
namespace {

using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::ScratchFile;
using ::tessera::testing::WriteBytes;

constexpr std::string_view kLlama31Config = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})";

constexpr std::string_view kLlama31GenerationConfig = R"({
  "bos_token_id": 128000,
  "do_sample": true,
  "eos_token_id": [128001, 128008, 128009],
  "temperature": 0.6,
  "top_p": 0.9,
  "transformers_version": "4.42.3"
})";

class HfConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<HfConfig> Read(std::string_view json) {
    WriteBytes(file_.path(), json);
    return HfConfig::Read(file_.path());
  }
  absl::StatusOr<GenerationConfig> ReadGeneration(std::string_view json) {
    WriteBytes(file_.path(), json);
    return ReadGenerationConfig(file_.path());
  }
  // INVALID_MODEL_FILE whose message starts with this test's file and contains `expected`.
  ::testing::AssertionResult IsError(const absl::Status& status, std::string_view expected) {
    const ::testing::AssertionResult names_file = IsInvalidModelFile(status, file_.path() + ": ");
    return names_file ? IsInvalidModelFile(status, expected) : names_file;
  }

  ScratchFile file_{"config.json"};
};

TEST_F(HfConfigTest, ReadsLlama31Config) {
  absl::StatusOr<HfConfig> config = Read(kLlama31Config);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->path(), file_.path());
  EXPECT_EQ(config->GetStringList("architectures").value(),
            std::vector<std::string>{"LlamaForCausalLM"});
  EXPECT_EQ(config->GetString("model_type").value(), "llama");
  EXPECT_EQ(config->GetInt("hidden_size").value(), 4096);
  EXPECT_EQ(config->GetInt("intermediate_size").value(), 14336);
  EXPECT_EQ(config->GetInt("num_key_value_heads").value(), 8);
  EXPECT_EQ(config->GetInt("vocab_size").value(), 128256);
  EXPECT_DOUBLE_EQ(config->GetFloat("rms_norm_eps").value(), 1e-5);
  EXPECT_DOUBLE_EQ(config->GetFloat("rope_theta").value(), 500000.0);
  EXPECT_DOUBLE_EQ(config->GetFloat("max_position_embeddings").value(), 131072.0);
  EXPECT_FALSE(config->GetBool("tie_word_embeddings").value());
  EXPECT_TRUE(config->GetBool("use_cache").value());
  EXPECT_EQ(config->GetIntList("eos_token_id").value(),
            (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(config->GetIntList("bos_token_id").value(), std::vector<int64_t>{128000});
}

TEST_F(HfConfigTest, ReadsNestedRopeScaling) {
  absl::StatusOr<HfConfig> config = Read(kLlama31Config);
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<HfConfig> rope_scaling = config->GetObject("rope_scaling");
  ASSERT_TRUE(rope_scaling.ok()) << rope_scaling.status();
  EXPECT_EQ(rope_scaling->GetString("rope_type").value(), "llama3");
  EXPECT_DOUBLE_EQ(rope_scaling->GetFloat("factor").value(), 8.0);
  EXPECT_DOUBLE_EQ(rope_scaling->GetFloat("low_freq_factor").value(), 1.0);
  EXPECT_DOUBLE_EQ(rope_scaling->GetFloat("high_freq_factor").value(), 4.0);
  EXPECT_EQ(rope_scaling->GetInt("original_max_position_embeddings").value(), 8192);
  // Errors inside the nested object name the key by its full path.
  EXPECT_TRUE(IsError(rope_scaling->GetFloat("beta_fast").status(),
                      "key 'rope_scaling.beta_fast' is missing"));
}

// Configs write null for an unused option; it reads as absent.
TEST_F(HfConfigTest, NullCountsAsMissing) {
  absl::StatusOr<HfConfig> config =
      Read(R"({"rope_scaling": null, "sliding_window": null, "head_dim": 64})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->Has("head_dim"));
  EXPECT_FALSE(config->Has("rope_scaling"));
  EXPECT_FALSE(config->Has("absent"));
  EXPECT_EQ(config->GetIntOr("sliding_window", 4096).value(), 4096);
  EXPECT_TRUE(IsError(config->GetObject("rope_scaling").status(),
                      "key 'rope_scaling' is null, expected an object"));
}

TEST_F(HfConfigTest, OptionalGettersFallBackOnlyWhenMissing) {
  absl::StatusOr<HfConfig> config =
      Read(R"({"head_dim": 64, "rms_norm_eps": 1e-06, "tie_word_embeddings": true,
               "hidden_act": "gelu", "partial_rotary_factor": "half"})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetIntOr("head_dim", 128).value(), 64);
  EXPECT_EQ(config->GetIntOr("num_key_value_heads", 32).value(), 32);
  EXPECT_DOUBLE_EQ(config->GetFloatOr("rms_norm_eps", 1e-5).value(), 1e-6);
  EXPECT_DOUBLE_EQ(config->GetFloatOr("rope_theta", 10000.0).value(), 10000.0);
  EXPECT_TRUE(config->GetBoolOr("tie_word_embeddings", false).value());
  EXPECT_FALSE(config->GetBoolOr("attention_bias", false).value());
  EXPECT_EQ(config->GetStringOr("hidden_act", "silu").value(), "gelu");
  EXPECT_EQ(config->GetStringOr("rope_type", "default").value(), "default");
  EXPECT_TRUE(IsError(config->GetFloatOr("partial_rotary_factor", 1.0).status(),
                      R"(key 'partial_rotary_factor' is a string ("half"), expected a number)"));
}

TEST_F(HfConfigTest, MistypedFieldsNameKeyAndType) {
  absl::StatusOr<HfConfig> config = Read(R"({
    "hidden_size": "4096",
    "num_hidden_layers": 32.5,
    "vocab_size": 18446744073709551615,
    "tie_word_embeddings": 0,
    "rms_norm_eps": "1e-5",
    "model_type": ["llama"],
    "eos_token_id": [2, "</s>"],
    "architectures": "LlamaForCausalLM",
    "rope_scaling": {"factor": "8", "long_factor": [1.0, "x"]},
    "sliding_window": 8
  })");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(IsError(config->GetInt("hidden_size").status(),
                      R"(key 'hidden_size' is a string ("4096"), expected a 64-bit integer)"));
  EXPECT_TRUE(IsError(config->GetInt("num_hidden_layers").status(),
                      "key 'num_hidden_layers' is a float (32.5), expected a 64-bit integer"));
  EXPECT_TRUE(IsError(config->GetInt("vocab_size").status(),
                      "key 'vocab_size' is an integer (18446744073709551615), expected a "
                      "64-bit integer"));
  EXPECT_TRUE(IsError(config->GetBool("tie_word_embeddings").status(),
                      "key 'tie_word_embeddings' is an integer (0), expected a boolean"));
  EXPECT_TRUE(IsError(config->GetFloat("rms_norm_eps").status(),
                      R"(key 'rms_norm_eps' is a string ("1e-5"), expected a number)"));
  EXPECT_TRUE(IsError(config->GetString("model_type").status(),
                      "key 'model_type' is an array ([\"llama\"]), expected a string"));
  EXPECT_TRUE(IsError(config->GetIntList("eos_token_id").status(),
                      "key 'eos_token_id' is an array ([2,\"</s>\"]), expected an integer or a "
                      "list of integers"));
  EXPECT_TRUE(IsError(config->GetStringList("architectures").status(),
                      "key 'architectures' is a string (\"LlamaForCausalLM\"), expected a list "
                      "of strings"));
  EXPECT_TRUE(IsError(config->GetObject("sliding_window").status(),
                      "key 'sliding_window' is an integer (8), expected an object"));
  EXPECT_TRUE(IsError(config->GetInt("num_attention_heads").status(),
                      "key 'num_attention_heads' is missing"));

  absl::StatusOr<HfConfig> rope_scaling = config->GetObject("rope_scaling");
  ASSERT_TRUE(rope_scaling.ok()) << rope_scaling.status();
  EXPECT_TRUE(IsError(rope_scaling->GetFloat("factor").status(),
                      R"(key 'rope_scaling.factor' is a string ("8"), expected a number)"));
  EXPECT_TRUE(IsError(rope_scaling->GetFloatList("long_factor").status(),
                      "key 'rope_scaling.long_factor' is an array ([1.0,\"x\"]), expected a "
                      "list of numbers"));
}

TEST_F(HfConfigTest, ReadsFloatLists) {
  absl::StatusOr<HfConfig> config = Read(R"({"long_factor": [1.0, 1.5, 2]})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetFloatList("long_factor").value(), (std::vector<double>{1.0, 1.5, 2.0}));
}

TEST_F(HfConfigTest, MalformedFilesAreRefused) {
  EXPECT_TRUE(IsError(Read(R"({"hidden_size": 4096,})").status(), "content is not valid JSON"));
  EXPECT_TRUE(IsError(Read("").status(), "content is not valid JSON"));
  EXPECT_TRUE(IsError(Read("[4096]").status(), "holds an array, expected a JSON object"));
  EXPECT_TRUE(IsError(Read(R"({"hidden_size": 4096, "hidden_size": 2048})").status(),
                      R"(content repeats the key "hidden_size")"));
  // Valid syntax, but beyond double's range: refused, not thrown.
  EXPECT_TRUE(IsError(Read(R"({"rms_norm_eps": 1e400})").status(), "content cannot be read"));
}

TEST_F(HfConfigTest, MissingFileIsNotFound) {
  for (const absl::Status& status : {HfConfig::Read(file_.path()).status(),
                                     ReadGenerationConfig(file_.path()).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(ErrorReasonOf(status), "MODEL_FILE_NOT_FOUND");
  }
}

TEST_F(HfConfigTest, ReadsLlama31GenerationConfig) {
  absl::StatusOr<GenerationConfig> generation = ReadGeneration(kLlama31GenerationConfig);
  ASSERT_TRUE(generation.ok()) << generation.status();
  EXPECT_EQ(generation->eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_EQ(generation->bos_token_id, 128000);
  EXPECT_EQ(generation->pad_token_id, std::nullopt);
  EXPECT_EQ(generation->do_sample, true);
  EXPECT_EQ(generation->temperature, 0.6);
  EXPECT_EQ(generation->top_p, 0.9);
  EXPECT_EQ(generation->top_k, std::nullopt);
  EXPECT_EQ(generation->min_p, std::nullopt);
  EXPECT_EQ(generation->repetition_penalty, std::nullopt);
  EXPECT_EQ(generation->max_new_tokens, std::nullopt);
}

TEST_F(HfConfigTest, ReadsSingleEosTokenId) {
  absl::StatusOr<GenerationConfig> generation = ReadGeneration(R"({
    "_from_model_config": true, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
    "top_k": 20, "repetition_penalty": 1.05, "min_p": 0, "max_new_tokens": 256,
    "transformers_version": "4.31.0"})");
  ASSERT_TRUE(generation.ok()) << generation.status();
  EXPECT_EQ(generation->eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(generation->bos_token_id, 1);
  EXPECT_EQ(generation->pad_token_id, 0);
  EXPECT_EQ(generation->do_sample, std::nullopt);
  EXPECT_EQ(generation->top_k, 20);
  EXPECT_EQ(generation->repetition_penalty, 1.05);
  EXPECT_EQ(generation->min_p, 0.0);  // an integer where a float is expected still reads
  EXPECT_EQ(generation->max_new_tokens, 256);
}

TEST_F(HfConfigTest, GenerationConfigWithoutEosHasNone) {
  absl::StatusOr<GenerationConfig> generation = ReadGeneration(R"({"eos_token_id": null})");
  ASSERT_TRUE(generation.ok()) << generation.status();
  EXPECT_TRUE(generation->eos_token_ids.empty());
  EXPECT_EQ(generation->bos_token_id, std::nullopt);
}

TEST_F(HfConfigTest, MistypedGenerationConfigIsRefused) {
  EXPECT_TRUE(IsError(ReadGeneration(R"({"eos_token_id": "2"})").status(),
                      "key 'eos_token_id' is a string"));
  EXPECT_TRUE(IsError(ReadGeneration(R"({"eos_token_id": [2, -1]})").status(),
                      "key 'eos_token_id' holds -1, which is not a token id"));
  EXPECT_TRUE(IsError(ReadGeneration(R"({"bos_token_id": 4294967296})").status(),
                      "key 'bos_token_id' holds 4294967296, which is not a token id"));
  EXPECT_TRUE(IsError(ReadGeneration(R"({"temperature": "0.6"})").status(),
                      "key 'temperature' is a string"));
  EXPECT_TRUE(IsError(ReadGeneration(R"({"do_sample": "yes"})").status(),
                      "key 'do_sample' is a string"));
  EXPECT_TRUE(IsError(ReadGeneration(R"({"top_k": 0.5})").status(),
                      "key 'top_k' is a float (0.5), expected a 64-bit integer"));
}

}  // namespace
}  // namespace tessera
