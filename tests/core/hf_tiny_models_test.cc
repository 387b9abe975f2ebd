// The safetensors and config readers on files Hugging Face transformers itself wrote: the tiny
// reference models in tests/data/hf_tiny (see make_reference_models.py there). Shapes follow
// from the configs the script sets: hidden 64, 4 heads of 16 (Qwen3: of 32), 2 KV heads,
// feed-forward 160, 2 layers, vocabulary 512.
#include <string>
#include <vector>

#include "core/format/hf_config.h"
#include "core/format/safetensors_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;

std::string ModelDir(const std::string& family) {
  return std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family;
}

std::vector<int64_t> Shape(const safetensors::SafetensorsModel& model, const std::string& name) {
  const safetensors::TensorInfo* info = model.FindTensor(name);
  return info == nullptr ? std::vector<int64_t>{} : info->shape;
}

class HfTinyModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfTinyModelTest, ConfigAndWeightsAgree) {
  auto config = HfConfig::Read(ModelDir(GetParam()) + "/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetInt("hidden_size").value_or(0), 64);
  EXPECT_EQ(config->GetInt("num_hidden_layers").value_or(0), 2);
  EXPECT_EQ(config->GetInt("vocab_size").value_or(0), 512);

  auto model = safetensors::SafetensorsModel::Open(ModelDir(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_THAT(Shape(**model, "model.embed_tokens.weight"), ElementsAre(512, 64));
  EXPECT_THAT(Shape(**model, "model.norm.weight"), ElementsAre(64));
  EXPECT_THAT(Shape(**model, "model.layers.1.mlp.down_proj.weight"), ElementsAre(64, 160));
  auto embedding = (*model)->GetTensor("model.embed_tokens.weight");
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  EXPECT_EQ(embedding->dtype, DType::kF32);
  // Tied embeddings leave no separate output matrix.
  const bool tied = config->GetBoolOr("tie_word_embeddings", true).value_or(true);
  EXPECT_EQ((*model)->FindTensor("lm_head.weight") == nullptr, tied);
}

INSTANTIATE_TEST_SUITE_P(Families, HfTinyModelTest,
                         ::testing::Values("llama3", "qwen2", "qwen3", "mistral", "phi3",
                                           "phi3_longrope"));

TEST(HfTinyModelLayoutTest, FamilyQuirksAreInTheCheckpoints) {
  auto qwen2 = safetensors::SafetensorsModel::Open(ModelDir("qwen2"));
  ASSERT_TRUE(qwen2.ok());
  EXPECT_THAT(Shape(**qwen2, "model.layers.0.self_attn.q_proj.bias"), ElementsAre(64));
  EXPECT_THAT(Shape(**qwen2, "model.layers.0.self_attn.k_proj.bias"), ElementsAre(32));

  auto qwen3 = safetensors::SafetensorsModel::Open(ModelDir("qwen3"));
  ASSERT_TRUE(qwen3.ok());
  EXPECT_THAT(Shape(**qwen3, "model.layers.0.self_attn.q_proj.weight"), ElementsAre(128, 64));
  EXPECT_THAT(Shape(**qwen3, "model.layers.0.self_attn.q_norm.weight"), ElementsAre(32));

  auto phi3 = safetensors::SafetensorsModel::Open(ModelDir("phi3"));
  ASSERT_TRUE(phi3.ok());
  // q, k and v fused: (4 + 2 + 2) heads of 16; gate and up fused: 2 x 160.
  EXPECT_THAT(Shape(**phi3, "model.layers.0.self_attn.qkv_proj.weight"), ElementsAre(128, 64));
  EXPECT_THAT(Shape(**phi3, "model.layers.0.mlp.gate_up_proj.weight"), ElementsAre(320, 64));
}

}  // namespace
}  // namespace tessera
