// GgufBuilder: a small model with views and owned tensors of every compute dtype, built in place
// (the tensors must be the caller's memory, not copies) and written to disk (the file must be
// the very bytes GgufWriter gives for the same entries added by copy); its errors; and the
// lifetime of what the built GgufFile keeps alive. Also GgufFile::FromParts on its own.
#include "core/format/gguf_builder.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera::gguf {
namespace {

using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::ReadBytes;
using ::tessera::testing::ScratchFile;

template <typename T>
std::string BytesOf(std::initializer_list<T> values) {
  return std::string(reinterpret_cast<const char*>(std::data(values)), values.size() * sizeof(T));
}

// One tensor of the test model; `owned` ones are handed to the builder, the others viewed.
struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string bytes;
  bool owned;
};

const std::vector<TensorSpec>& ModelTensors() {
  static const std::vector<TensorSpec> tensors = {
      {"token_embd.weight", DType::kF32, {2, 3}, BytesOf<float>({0.5f, -1, 2, 3.25f, -4, 8}),
       false},
      // F16 1, -2, 0, 65504.
      {"blk.0.attn_norm.weight", DType::kF16, {4},
       BytesOf<uint16_t>({0x3c00, 0xc000, 0x0000, 0x7bff}), false},
      // BF16 1, 2, -1, 0.
      {"blk.0.ffn_up.weight", DType::kBF16, {2, 1, 2},
       BytesOf<uint16_t>({0x3f80, 0x4000, 0xbf80, 0x0000}), false},
      {"rope_freqs.weight", DType::kF32, {3}, BytesOf<float>({1, 0.5f, 0.25f}), true},
      // BF16 -2, 0.5, 3, 1.
      {"output.weight", DType::kBF16, {2, 2}, BytesOf<uint16_t>({0xc000, 0x3f00, 0x4040, 0x3f80}),
       true},
  };
  return tensors;
}

void AddModelMetadata(GgufWriter& writer) {
  writer.AddString("general.architecture", "llama");
  writer.AddUint32("llama.block_count", 2);
  writer.AddFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  writer.AddBool("tokenizer.ggml.add_bos_token", true);
  writer.AddArray<std::string>("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "a"});
  writer.AddArray<int32_t>("tokenizer.ggml.token_type", std::vector<int32_t>{3, 1});
}

void ExpectModelMetadata(const GgufFile& file) {
  ASSERT_EQ(file.metadata().size(), 6u);
  EXPECT_EQ(file.metadata().front().first, "general.architecture");
  EXPECT_EQ(file.GetString("general.architecture").value(), "llama");
  EXPECT_EQ(file.Find("llama.block_count")->type, ValueType::kUint32);
  EXPECT_EQ(file.GetInt("llama.block_count").value(), 2);
  EXPECT_EQ(file.GetFloat("llama.attention.layer_norm_rms_epsilon").value(),
            static_cast<double>(1e-5f));
  EXPECT_TRUE(file.GetBool("tokenizer.ggml.add_bos_token").value());
  EXPECT_EQ(file.GetStringArray("tokenizer.ggml.tokens").value(),
            (std::vector<std::string_view>{"<s>", "a"}));
  EXPECT_EQ(file.GetIntArray("tokenizer.ggml.token_type").value(),
            (std::vector<int64_t>{3, 1}));
}

// Each tensor of `file` has the spec's dtype, shape and bytes.
void ExpectModelTensors(const GgufFile& file) {
  ASSERT_EQ(file.tensors().size(), ModelTensors().size());
  for (const TensorSpec& spec : ModelTensors()) {
    SCOPED_TRACE(spec.name);
    const absl::StatusOr<Tensor> tensor = file.GetTensor(spec.name);
    ASSERT_TRUE(tensor.ok()) << tensor.status();
    EXPECT_EQ(tensor->dtype, spec.dtype);
    ASSERT_EQ(tensor->rank, static_cast<int>(spec.shape.size()));
    for (int d = 0; d < tensor->rank; ++d) EXPECT_EQ(tensor->shape[d], spec.shape[d]);
    ASSERT_EQ(tensor->bytes(), spec.bytes.size());
    EXPECT_EQ(std::memcmp(tensor->data, spec.bytes.data(), spec.bytes.size()), 0);
  }
  // The file lists dims innermost first.
  EXPECT_EQ(file.FindTensor("blk.0.ffn_up.weight")->dims, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(file.FindTensor("token_embd.weight")->dims, (std::vector<int64_t>{3, 2}));
}

Tensor ViewOf(const TensorSpec& spec) {
  Tensor tensor;
  tensor.data = spec.bytes.data();
  tensor.dtype = spec.dtype;
  tensor.rank = static_cast<int>(spec.shape.size());
  std::copy(spec.shape.begin(), spec.shape.end(), tensor.shape);
  return tensor;
}

// The test model in `builder`; `owned_data` receives where the owned tensors were stored.
void AddModel(GgufBuilder& builder, std::vector<const void*>* owned_data = nullptr) {
  AddModelMetadata(builder.metadata());
  for (const TensorSpec& spec : ModelTensors()) {
    if (!spec.owned) {
      ASSERT_TRUE(builder.AddTensor(spec.name, ViewOf(spec)).ok()) << spec.name;
      continue;
    }
    const absl::StatusOr<Tensor> stored =
        builder.AddOwnedTensor(spec.name, spec.dtype, spec.shape, spec.bytes);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_NE(stored->data, spec.bytes.data());  // the builder keeps its own copy
    if (owned_data != nullptr) owned_data->push_back(stored->data);
  }
}

TEST(GgufBuilderTest, BuildUsesViewsInPlace) {
  GgufBuilder builder;
  std::vector<const void*> owned_data;
  AddModel(builder, &owned_data);
  absl::StatusOr<std::unique_ptr<GgufFile>> file =
      std::move(builder).Build("models/tiny-hf", /*keep_alive=*/nullptr);
  ASSERT_TRUE(file.ok()) << file.status();

  EXPECT_EQ((*file)->path(), "models/tiny-hf");
  EXPECT_EQ((*file)->version(), 3u);
  ExpectModelMetadata(**file);
  ExpectModelTensors(**file);
  // Views are the caller's memory; owned tensors are where AddOwnedTensor said they were.
  size_t next_owned = 0;
  for (const TensorSpec& spec : ModelTensors()) {
    const void* expected = spec.owned ? owned_data[next_owned++] : spec.bytes.data();
    EXPECT_EQ((*file)->GetTensor(spec.name)->data, expected) << spec.name;
  }
  // Only the metadata image is parsed: the size of the same metadata written alone.
  GgufWriter metadata_only;
  AddModelMetadata(metadata_only);
  EXPECT_EQ((*file)->file_size(), metadata_only.Serialize().size());
}

TEST(GgufBuilderTest, WriteFileMatchesTheWriterAndReadsBack) {
  GgufBuilder builder;
  AddModel(builder);
  const ScratchFile scratch("built.gguf");
  const absl::Status written = builder.WriteFile(scratch.path());
  ASSERT_TRUE(written.ok()) << written;

  // The same entries through the writer, every tensor copied in.
  GgufWriter writer;
  AddModelMetadata(writer);
  for (const TensorSpec& spec : ModelTensors()) {
    ASSERT_TRUE(writer.AddTensor(spec.name, spec.dtype, spec.shape, spec.bytes).ok());
  }
  EXPECT_EQ(ReadBytes(scratch.path()), writer.Serialize());

  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(scratch.path());
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectModelMetadata(**file);
  ExpectModelTensors(**file);
}

TEST(GgufBuilderTest, RejectsInvalidTensors) {
  GgufBuilder builder;
  const TensorSpec& f32 = ModelTensors().front();  // [2, 3]
  ASSERT_TRUE(builder.AddTensor("w", ViewOf(f32)).ok());

  const auto expect_invalid = [](const absl::Status& status, std::string_view expected) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(std::string(status.message()).find(expected), std::string::npos) << status;
  };
  expect_invalid(builder.AddTensor("w", ViewOf(f32)), "'w': added twice");
  expect_invalid(builder.AddOwnedTensor("w", DType::kF32, f32.shape, f32.bytes).status(),
                 "'w': added twice");

  Tensor rank0 = ViewOf(f32);
  rank0.rank = 0;
  expect_invalid(builder.AddTensor("rank0", rank0), "rank 0 is outside 1..4");
  Tensor rank5 = ViewOf(f32);
  rank5.rank = 5;
  expect_invalid(builder.AddTensor("rank5", rank5), "rank 5 is outside 1..4");
  Tensor zero = ViewOf(f32);
  zero.shape[1] = 0;
  expect_invalid(builder.AddTensor("zero", zero), "dimension 0 is not positive");
  Tensor no_data = ViewOf(f32);
  no_data.data = nullptr;
  expect_invalid(builder.AddTensor("no_data", no_data), "no data");
  const std::vector<int64_t> negative = {2, -3};
  expect_invalid(builder.AddOwnedTensor("negative", DType::kF32, negative, "").status(),
                 "dimension -3 is not positive");
  expect_invalid(builder.AddOwnedTensor(std::string(65, 'n'), DType::kF32, f32.shape, f32.bytes)
                     .status(),
                 "the name must be 1 to 64 bytes");
  // [2, 3] F32 is 24 bytes.
  expect_invalid(
      builder.AddOwnedTensor("short", DType::kF32, f32.shape, std::string(23, '\0')).status(),
      "23 bytes of data given, the shape needs 24");

  // None of the rejected tensors was kept.
  absl::StatusOr<std::unique_ptr<GgufFile>> file = std::move(builder).Build("m", nullptr);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), 1u);
  EXPECT_EQ((*file)->tensors()[0].name, "w");
}

TEST(GgufBuilderTest, BuildRejectsMalformedMetadataAsTheReaderDoes) {
  GgufBuilder duplicate;
  duplicate.metadata().AddUint32("llama.block_count", 2);
  duplicate.metadata().AddUint32("llama.block_count", 3);
  EXPECT_TRUE(IsInvalidModelFile(std::move(duplicate).Build("models/dup", nullptr).status(),
                                 "models/dup: metadata key 'llama.block_count' appears more "
                                 "than once"));

  GgufBuilder bad_alignment;
  bad_alignment.metadata().AddUint32("general.alignment", 48);
  EXPECT_TRUE(IsInvalidModelFile(std::move(bad_alignment).Build("m", nullptr).status(),
                                 "'general.alignment' is 48, expected a power of two"));
}

// A keep_alive that records when it is released.
std::shared_ptr<const void> ReleaseRecorder(bool& released) {
  return std::shared_ptr<const int>(new int(0), [&released](const int* p) {
    delete p;
    released = true;
  });
}

TEST(GgufBuilderTest, KeepAliveLivesExactlyAsLongAsTheFile) {
  bool released = false;
  std::unique_ptr<GgufFile> file;
  {
    GgufBuilder builder;
    AddModel(builder);
    absl::StatusOr<std::unique_ptr<GgufFile>> built =
        std::move(builder).Build("m", ReleaseRecorder(released));
    ASSERT_TRUE(built.ok()) << built.status();
    file = *std::move(built);
  }
  // The builder is gone; the file still holds the caller's memory and the owned tensors.
  EXPECT_FALSE(released);
  ExpectModelTensors(*file);
  file.reset();
  EXPECT_TRUE(released);
}

TEST(GgufBuilderTest, FailedBuildReleasesKeepAlive) {
  bool released = false;
  GgufBuilder builder;
  builder.metadata().AddBool("k", true);
  builder.metadata().AddBool("k", false);
  EXPECT_FALSE(std::move(builder).Build("m", ReleaseRecorder(released)).ok());
  EXPECT_TRUE(released);
}

TEST(GgufWriterViewTest, ViewedDataIsReadWhenWritten) {
  GgufWriter writer;
  std::vector<float> values = {1, 2};
  const std::vector<int64_t> shape = {2};
  ASSERT_TRUE(writer
                  .AddTensorView("w", GgmlType::kF32, shape,
                                 std::string_view(reinterpret_cast<const char*>(values.data()), 8))
                  .ok());
  values[1] = -7;  // not copied, so the change shows in the file
  const std::string bytes = writer.Serialize();
  // Header 24 + info "w" 33 = 57, padded to 64; the data follows.
  ASSERT_EQ(bytes.size(), 96u);
  EXPECT_EQ(bytes.substr(64, 8), BytesOf<float>({1, -7}));
  EXPECT_EQ(writer.AddTensorView("w", GgmlType::kF32, shape, bytes.substr(64, 8)).code(),
            absl::StatusCode::kInvalidArgument);
}

// FromParts on its own: an image from GgufWriter plus tensors given as infos.
class GgufFromPartsTest : public ::testing::Test {
 protected:
  static TensorInfo Info(std::string name, std::vector<int64_t> dims, size_t bytes,
                         const void* data) {
    TensorInfo info;
    info.name = std::move(name);
    info.type = GgmlType::kF32;
    info.dims = std::move(dims);
    info.bytes = bytes;
    info.data = data;
    return info;
  }

  const float data_[6] = {1, 2, 3, 4, 5, 6};
};

TEST_F(GgufFromPartsTest, AddsTensorsToThoseOfTheImage) {
  GgufWriter writer;
  writer.AddString("general.architecture", "llama");
  const std::vector<int64_t> shape = {2};
  ASSERT_TRUE(writer.AddTensor("in_image", DType::kF32, shape, BytesOf<float>({9, 8})).ok());
  const std::string image = writer.Serialize();
  std::vector<TensorInfo> parts;
  parts.push_back(Info("part", {3, 2}, 24, data_));
  absl::StatusOr<std::unique_ptr<GgufFile>> file =
      GgufFile::FromParts("p", image, std::move(parts), nullptr);
  ASSERT_TRUE(file.ok()) << file.status();

  EXPECT_EQ((*file)->file_size(), image.size());
  EXPECT_EQ((*file)->GetString("general.architecture").value(), "llama");
  ASSERT_EQ((*file)->tensors().size(), 2u);
  const absl::StatusOr<Tensor> in_image = (*file)->GetTensor("in_image");
  ASSERT_TRUE(in_image.ok()) << in_image.status();
  EXPECT_EQ(std::memcmp(in_image->data, BytesOf<float>({9, 8}).data(), 8), 0);
  const absl::StatusOr<Tensor> part = (*file)->GetTensor("part");
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->data, data_);
  EXPECT_EQ(part->shape[0], 2);
  EXPECT_EQ(part->shape[1], 3);
}

TEST_F(GgufFromPartsTest, RejectsBadParts) {
  GgufWriter writer;
  const std::vector<int64_t> shape = {2};
  ASSERT_TRUE(writer.AddTensor("in_image", DType::kF32, shape, BytesOf<float>({9, 8})).ok());
  const std::string image = writer.Serialize();
  const auto from_parts = [&](std::vector<TensorInfo> parts) {
    return GgufFile::FromParts("dir/model", image, std::move(parts), nullptr).status();
  };
  const auto one = [](TensorInfo info) {
    std::vector<TensorInfo> parts;
    parts.push_back(std::move(info));
    return parts;
  };

  // 3 x 2 F32 elements are 24 bytes.
  EXPECT_TRUE(IsInvalidModelFile(from_parts(one(Info("w", {3, 2}, 20, data_))),
                                 "dir/model: tensor 'w' has 20 bytes of data; its type F32 and "
                                 "dims need 24"));
  std::vector<TensorInfo> twice;
  twice.push_back(Info("w", {6}, 24, data_));
  twice.push_back(Info("w", {6}, 24, data_));
  EXPECT_TRUE(IsInvalidModelFile(from_parts(std::move(twice)),
                                 "tensor name 'w' appears more than once"));
  EXPECT_TRUE(IsInvalidModelFile(from_parts(one(Info("in_image", {6}, 24, data_))),
                                 "tensor name 'in_image' appears more than once"));
  EXPECT_TRUE(IsInvalidModelFile(from_parts(one(Info("w", {6, 0}, 0, data_))),
                                 "tensor 'w' has a zero-length dimension 1"));
  EXPECT_TRUE(IsInvalidModelFile(from_parts(one(Info("w", {1, 1, 1, 1, 6}, 24, data_))),
                                 "tensor 'w' has 5 dimensions; 1 to 4 are allowed"));
  EXPECT_TRUE(IsInvalidModelFile(from_parts(one(Info("w", {6}, 24, nullptr))),
                                 "tensor 'w' has no data"));
  EXPECT_TRUE(IsInvalidModelFile(
      GgufFile::FromParts("dir/model", "GGUX", {}, nullptr).status(),
      "dir/model: not a GGUF file"));
}

}  // namespace
}  // namespace tessera::gguf
