// Every model family against Hugging Face transformers: the tiny random-weight models in
// tests/data/hf_tiny (make_reference_models.py) come with transformers' fp32 logits for the last
// position of three prompts and its 16-token greedy continuations. Tessera loads each directory
// in place and from the GGUF file its converter writes; both must give logits within 1e-4 of the
// largest logit's magnitude and exactly the same greedy tokens.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/engine/kv_cache.h"
#include "core/format/gguf.h"
#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

constexpr double kRelativeTolerance = 1e-4;

struct ReferenceCase {
  std::vector<int32_t> tokens;
  std::vector<float> last_logits;
  std::vector<int32_t> greedy;
};

std::string ModelDir(const std::string& family) {
  return std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family;
}

std::vector<ReferenceCase> ReadReference(const std::string& family) {
  std::ifstream file(ModelDir(family) + "/reference.json");
  const nlohmann::json reference = nlohmann::json::parse(file);
  std::vector<ReferenceCase> cases;
  for (const nlohmann::json& prompt : reference.at("prompts")) {
    cases.push_back({prompt.at("tokens").get<std::vector<int32_t>>(),
                     prompt.at("last_logits").get<std::vector<float>>(),
                     prompt.at("greedy").get<std::vector<int32_t>>()});
  }
  return cases;
}

struct Outputs {
  std::vector<float> last_logits;
  std::vector<int32_t> greedy;
};

// The prompt's last logits, then greedy decoding one token per forward pass.
Outputs Run(const Model& model, const ReferenceCase& c) {
  const ModelInfo& info = model.info();
  const std::unique_ptr<KvCachePool> pool = KvCachePool::Create(info.kv_shape, 256).value();
  auto cache = pool->Allocate(static_cast<int64_t>(c.tokens.size() + c.greedy.size()));
  EXPECT_TRUE(cache.ok()) << cache.status();
  Outputs out;
  std::vector<float> logits(info.vocab_size);
  EXPECT_TRUE(model.Forward(c.tokens, **cache, logits).ok());
  out.last_logits = logits;
  for (size_t i = 0; i < c.greedy.size(); ++i) {
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.greedy.push_back(next);
    if (i + 1 < c.greedy.size()) {
      EXPECT_TRUE(model.Forward({&next, 1}, **cache, logits).ok());
    }
  }
  return out;
}

void ExpectMatchesReference(const Model& model, const std::string& family) {
  for (const ReferenceCase& c : ReadReference(family)) {
    SCOPED_TRACE(testing::Message() << family << ", prompt of " << c.tokens.size() << " tokens");
    const Outputs out = Run(model, c);
    ASSERT_EQ(out.last_logits.size(), c.last_logits.size());
    float largest = 0;
    for (const float logit : c.last_logits) largest = std::max(largest, std::abs(logit));
    const float tolerance = static_cast<float>(kRelativeTolerance) * largest;
    for (size_t v = 0; v < c.last_logits.size(); ++v) {
      ASSERT_NEAR(out.last_logits[v], c.last_logits[v], tolerance) << "token " << v;
    }
    EXPECT_EQ(out.greedy, c.greedy);
  }
}

class HfTinyReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfTinyReferenceTest, DirectoryLoadedInPlaceMatchesTransformers) {
  auto file = OpenHfDirectory(ModelDir(GetParam()), /*require_tokenizer=*/false);
  ASSERT_TRUE(file.ok()) << file.status();
  auto model = BuildModelFromGguf(**file);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectMatchesReference(**model, GetParam());
}

TEST_P(HfTinyReferenceTest, ConvertedGgufFileMatchesTransformers) {
  const std::string gguf_path =
      (std::filesystem::path(::testing::TempDir()) / (GetParam() + ".gguf")).string();
  ASSERT_TRUE(ConvertHfDirectoryToGguf(ModelDir(GetParam()), gguf_path).ok());
  auto file = gguf::GgufFile::Open(gguf_path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto model = BuildModelFromGguf(**file);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectMatchesReference(**model, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Families, HfTinyReferenceTest,
                         ::testing::Values("llama3", "qwen2", "qwen3", "mistral", "phi3",
                                           "phi3_longrope"));

}  // namespace
}  // namespace tessera
