// GgufWriter: byte layout checked against the format spec by hand, and a writer -> reader round
// trip of every metadata type, nested arrays and each tensor type, for versions 2 and 3.
#include "core/format/gguf_writer.h"

#include <cstring>
#include <limits>

#include "core/format/gguf.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera::gguf {
namespace {

using ::tessera::testing::ScratchFile;
using ::tessera::testing::ScratchPath;

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// The file is removed again on return; the open mapping stays valid.
std::unique_ptr<GgufFile> WriteAndOpen(const GgufWriter& writer) {
  const ScratchFile scratch("round_trip.gguf");
  const absl::Status written = writer.WriteFile(scratch.path());
  EXPECT_TRUE(written.ok()) << written;
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(scratch.path());
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : nullptr;
}

Value ScalarValue(ValueType type, int64_t i) {
  Value value;
  value.type = type;
  value.i = i;
  return value;
}

Value ArrayValue(ValueType element_type, std::vector<Value> elements) {
  Value value;
  value.type = ValueType::kArray;
  value.element_type = element_type;
  value.elements = std::move(elements);
  return value;
}

// Little-endian fields spelled out byte by byte, as the spec lays them out.
std::string U32(uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
          static_cast<char>(v >> 24)};
}
std::string U64(uint64_t v) { return U32(static_cast<uint32_t>(v)) + U32(v >> 32); }

TEST(GgufWriterTest, LayoutOfOneEntryMatchesTheSpec) {
  GgufWriter writer;
  writer.AddUint8("a", 7);
  const std::string expected = std::string("GGUF") + U32(3) + U64(0) + U64(1) +  // header
                               U64(1) + "a" + U32(0) + std::string(1, '\x07');  // key, uint8, 7
  EXPECT_EQ(writer.Serialize(), expected);
}

TEST(GgufWriterTest, LayoutOfOneTensorMatchesTheSpec) {
  GgufWriter writer;
  writer.set_version(2);
  const std::vector<int64_t> shape = {2};
  ASSERT_TRUE(writer.AddTensor("w", DType::kF32, shape, FloatBytes({1.0f, -2.0f})).ok());
  // Header (24 bytes) + info "w" (8 + 1 + 4 + 8 + 4 + 8 = 33) = 57, padded to 64; then 8 data
  // bytes padded to the next multiple of 32.
  std::string expected = std::string("GGUF") + U32(2) + U64(1) + U64(0) + U64(1) + "w" + U32(1) +
                         U64(2) + U32(0) + U64(0);
  expected += std::string(64 - expected.size(), '\0');
  expected += U32(0x3f800000) + U32(0xc0000000);  // 1.0f, -2.0f
  expected += std::string(96 - expected.size(), '\0');
  EXPECT_EQ(writer.Serialize(), expected);
}

class GgufRoundTripTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTripTest, EveryScalarType) {
  GgufWriter writer;
  writer.set_version(GetParam());
  writer.AddUint8("t.uint8", 200);
  writer.AddInt8("t.int8", -100);
  writer.AddUint16("t.uint16", 60000);
  writer.AddInt16("t.int16", -30000);
  writer.AddUint32("t.uint32", 4000000000u);
  writer.AddInt32("t.int32", -2000000000);
  writer.AddUint64("t.uint64", (uint64_t{1} << 63) + 5);
  writer.AddInt64("t.int64", -(int64_t{1} << 62));
  writer.AddFloat32("t.float32", 1.5f);
  writer.AddFloat64("t.float64", -0.1);
  writer.AddBool("t.bool", true);
  writer.AddString("t.string", "h\xC3\xA9llo");  // "héllo"
  writer.AddString("t.empty", "");
  const std::unique_ptr<GgufFile> file = WriteAndOpen(writer);
  ASSERT_NE(file, nullptr);

  EXPECT_EQ(file->version(), GetParam());
  ASSERT_EQ(file->metadata().size(), 13u);
  EXPECT_EQ(file->metadata()[0].first, "t.uint8");
  EXPECT_EQ(file->metadata()[12].first, "t.empty");
  EXPECT_EQ(file->GetInt("t.uint8").value(), 200);
  EXPECT_EQ(file->GetInt("t.int8").value(), -100);
  EXPECT_EQ(file->GetInt("t.uint16").value(), 60000);
  EXPECT_EQ(file->GetInt("t.int16").value(), -30000);
  EXPECT_EQ(file->GetInt("t.uint32").value(), 4000000000);
  EXPECT_EQ(file->GetInt("t.int32").value(), -2000000000);
  EXPECT_EQ(file->GetInt("t.int64").value(), -(int64_t{1} << 62));
  EXPECT_EQ(file->GetFloat("t.float32").value(), 1.5);
  EXPECT_EQ(file->GetFloat("t.float64").value(), -0.1);
  EXPECT_TRUE(file->GetBool("t.bool").value());
  EXPECT_EQ(file->GetString("t.string").value(), "h\xC3\xA9llo");
  EXPECT_EQ(file->GetString("t.empty").value(), "");

  const Value* big = file->Find("t.uint64");
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->type, ValueType::kUint64);
  EXPECT_EQ(big->u, (uint64_t{1} << 63) + 5);
  // Above INT64_MAX, so GetInt cannot return it.
  EXPECT_EQ(file->GetInt("t.uint64").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(file->Find("t.int8")->type, ValueType::kInt8);
  EXPECT_EQ(file->Find("t.float32")->type, ValueType::kFloat32);
}

TEST_P(GgufRoundTripTest, ArraysOfEveryType) {
  GgufWriter writer;
  writer.set_version(GetParam());
  writer.AddArray<uint8_t>("a.uint8", std::vector<uint8_t>{0, 255});
  writer.AddArray<int8_t>("a.int8", std::vector<int8_t>{-128, 127});
  writer.AddArray<uint16_t>("a.uint16", std::vector<uint16_t>{1, 65535});
  writer.AddArray<int16_t>("a.int16", std::vector<int16_t>{-32768, 5});
  writer.AddArray<uint32_t>("a.uint32", std::vector<uint32_t>{7, 4294967295u});
  writer.AddArray<int32_t>("a.int32", std::vector<int32_t>{-1, 2, -3});
  writer.AddArray<uint64_t>("a.uint64", std::vector<uint64_t>{uint64_t{1} << 40});
  writer.AddArray<int64_t>("a.int64", std::vector<int64_t>{-(int64_t{1} << 40), 0});
  writer.AddArray<float>("a.float32", std::vector<float>{0.25f, -1e30f});
  writer.AddArray<double>("a.float64", std::vector<double>{1e300, -2.5});
  const bool bools[] = {true, false, true};
  writer.AddArray<bool>("a.bool", bools);
  writer.AddArray<std::string>("a.string", std::vector<std::string>{"x", "", "\u2581yz"});
  writer.AddArray<int32_t>("a.empty", std::vector<int32_t>{});
  const std::unique_ptr<GgufFile> file = WriteAndOpen(writer);
  ASSERT_NE(file, nullptr);

  EXPECT_EQ(file->GetIntArray("a.uint8").value(), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(file->GetIntArray("a.int8").value(), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(file->GetIntArray("a.uint16").value(), (std::vector<int64_t>{1, 65535}));
  EXPECT_EQ(file->GetIntArray("a.int16").value(), (std::vector<int64_t>{-32768, 5}));
  EXPECT_EQ(file->GetIntArray("a.uint32").value(), (std::vector<int64_t>{7, 4294967295}));
  EXPECT_EQ(file->GetIntArray("a.int32").value(), (std::vector<int64_t>{-1, 2, -3}));
  EXPECT_EQ(file->GetIntArray("a.uint64").value(), (std::vector<int64_t>{int64_t{1} << 40}));
  EXPECT_EQ(file->GetIntArray("a.int64").value(),
            (std::vector<int64_t>{-(int64_t{1} << 40), 0}));
  EXPECT_EQ(file->GetFloatArray("a.float32").value(), (std::vector<float>{0.25f, -1e30f}));
  const Value* float64 = file->Find("a.float64");
  ASSERT_NE(float64, nullptr);
  EXPECT_EQ(float64->element_type, ValueType::kFloat64);
  ASSERT_EQ(float64->elements.size(), 2u);
  EXPECT_EQ(float64->elements[0].f, 1e300);
  EXPECT_EQ(float64->elements[1].f, -2.5);
  const Value* bool_array = file->Find("a.bool");
  ASSERT_NE(bool_array, nullptr);
  EXPECT_EQ(bool_array->element_type, ValueType::kBool);
  ASSERT_EQ(bool_array->elements.size(), 3u);
  EXPECT_EQ(bool_array->elements[0].u, 1u);
  EXPECT_EQ(bool_array->elements[1].u, 0u);
  EXPECT_EQ(file->GetStringArray("a.string").value(),
            (std::vector<std::string_view>{"x", "", "\u2581yz"}));
  EXPECT_TRUE(file->GetIntArray("a.empty").value().empty());
  EXPECT_EQ(file->Find("a.empty")->element_type, ValueType::kInt32);
}

TEST_P(GgufRoundTripTest, NestedArrays) {
  // [[1, -2], [], [3]] of int32, and [[["deep"]]] of strings.
  const Value matrix = ArrayValue(
      ValueType::kArray,
      {ArrayValue(ValueType::kInt32,
                  {ScalarValue(ValueType::kInt32, 1), ScalarValue(ValueType::kInt32, -2)}),
       ArrayValue(ValueType::kInt32, {}),
       ArrayValue(ValueType::kInt32, {ScalarValue(ValueType::kInt32, 3)})});
  Value deep_string;
  deep_string.type = ValueType::kString;
  deep_string.s = "deep";
  const Value deep = ArrayValue(
      ValueType::kArray,
      {ArrayValue(ValueType::kArray, {ArrayValue(ValueType::kString, {deep_string})})});
  GgufWriter writer;
  writer.set_version(GetParam());
  writer.AddValue("n.matrix", matrix);
  writer.AddValue("n.deep", deep);
  const std::unique_ptr<GgufFile> file = WriteAndOpen(writer);
  ASSERT_NE(file, nullptr);

  const Value* read_matrix = file->Find("n.matrix");
  ASSERT_NE(read_matrix, nullptr);
  EXPECT_EQ(read_matrix->type, ValueType::kArray);
  EXPECT_EQ(read_matrix->element_type, ValueType::kArray);
  ASSERT_EQ(read_matrix->elements.size(), 3u);
  ASSERT_EQ(read_matrix->elements[0].elements.size(), 2u);
  EXPECT_EQ(read_matrix->elements[0].element_type, ValueType::kInt32);
  EXPECT_EQ(read_matrix->elements[0].elements[0].i, 1);
  EXPECT_EQ(read_matrix->elements[0].elements[1].i, -2);
  EXPECT_TRUE(read_matrix->elements[1].elements.empty());
  ASSERT_EQ(read_matrix->elements[2].elements.size(), 1u);
  EXPECT_EQ(read_matrix->elements[2].elements[0].i, 3);

  const Value* read_deep = file->Find("n.deep");
  ASSERT_NE(read_deep, nullptr);
  ASSERT_EQ(read_deep->elements.size(), 1u);
  ASSERT_EQ(read_deep->elements[0].elements.size(), 1u);
  ASSERT_EQ(read_deep->elements[0].elements[0].elements.size(), 1u);
  EXPECT_EQ(read_deep->elements[0].elements[0].elements[0].s, "deep");
  // A nested array is not an array of integers.
  EXPECT_EQ(file->GetIntArray("n.matrix").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(GgufRoundTripTest, TensorsOfEachType) {
  GgufWriter writer;
  writer.set_version(GetParam());
  const std::vector<float> f32 = {1, 2, 3, 4, 5, 6};
  const uint16_t f16[] = {0x3c00, 0xc000, 0x0000, 0x7bff};  // 1, -2, 0, 65504
  const uint16_t bf16[] = {0x3f80, 0x4000, 0xbf80, 0x0000};  // 1, 2, -1, 0
  std::string q8_0(2 * 34, '\0');  // two rows of one 32-element block each
  for (size_t i = 0; i < q8_0.size(); ++i) q8_0[i] = static_cast<char>(i);
  const std::vector<int64_t> f32_shape = {2, 3}, f16_shape = {4}, bf16_shape = {2, 1, 2},
                             q8_shape = {2, 32};
  ASSERT_TRUE(writer.AddTensor("f32", DType::kF32, f32_shape, FloatBytes(f32)).ok());
  ASSERT_TRUE(writer.AddTensor("f16", DType::kF16, f16_shape,
                               std::string_view(reinterpret_cast<const char*>(f16), 8))
                  .ok());
  ASSERT_TRUE(writer.AddTensor("bf16", GgmlType::kBF16, bf16_shape,
                               std::string_view(reinterpret_cast<const char*>(bf16), 8))
                  .ok());
  ASSERT_TRUE(writer.AddTensor("q8_0", GgmlType::kQ8_0, q8_shape, q8_0).ok());
  const std::unique_ptr<GgufFile> file = WriteAndOpen(writer);
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(file->tensors().size(), 4u);

  const absl::StatusOr<Tensor> read_f32 = file->GetTensor("f32");
  ASSERT_TRUE(read_f32.ok()) << read_f32.status();
  EXPECT_EQ(read_f32->dtype, DType::kF32);
  ASSERT_EQ(read_f32->rank, 2);
  EXPECT_EQ(read_f32->shape[0], 2);
  EXPECT_EQ(read_f32->shape[1], 3);
  EXPECT_EQ(std::memcmp(read_f32->data, f32.data(), 24), 0);
  EXPECT_EQ(file->FindTensor("f32")->dims, (std::vector<int64_t>{3, 2}));  // innermost first

  const absl::StatusOr<Tensor> read_f16 = file->GetTensor("f16");
  ASSERT_TRUE(read_f16.ok()) << read_f16.status();
  EXPECT_EQ(read_f16->dtype, DType::kF16);
  ASSERT_EQ(read_f16->rank, 1);
  EXPECT_EQ(read_f16->shape[0], 4);
  EXPECT_EQ(std::memcmp(read_f16->data, f16, 8), 0);

  const absl::StatusOr<Tensor> read_bf16 = file->GetTensor("bf16");
  ASSERT_TRUE(read_bf16.ok()) << read_bf16.status();
  EXPECT_EQ(read_bf16->dtype, DType::kBF16);
  ASSERT_EQ(read_bf16->rank, 3);
  EXPECT_EQ(read_bf16->shape[0], 2);
  EXPECT_EQ(read_bf16->shape[1], 1);
  EXPECT_EQ(read_bf16->shape[2], 2);
  EXPECT_EQ(std::memcmp(read_bf16->data, bf16, 8), 0);

  const TensorInfo* q8 = file->FindTensor("q8_0");
  ASSERT_NE(q8, nullptr);
  EXPECT_EQ(q8->type, GgmlType::kQ8_0);
  EXPECT_EQ(GgmlTypeName(q8->type), "Q8_0");
  EXPECT_EQ(q8->dims, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(q8->bytes, 68u);
  EXPECT_EQ(std::memcmp(q8->data, q8_0.data(), 68), 0);
  const absl::Status unsupported = file->GetTensor("q8_0").status();
  EXPECT_EQ(unsupported.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorReasonOf(unsupported), "UNSUPPORTED_TENSOR_TYPE");
  EXPECT_NE(unsupported.message().find("'q8_0' has type Q8_0"), std::string_view::npos)
      << unsupported;

  // Every tensor starts on the default 32-byte alignment.
  for (const TensorInfo& info : file->tensors()) EXPECT_EQ(info.offset % 32, 0u) << info.name;
}

INSTANTIATE_TEST_SUITE_P(Versions, GgufRoundTripTest, ::testing::Values(2u, 3u),
                         [](const auto& info) { return "v" + std::to_string(info.param); });

TEST(GgufWriterTest, CustomAlignmentIsWrittenAndUsed) {
  GgufWriter writer;
  ASSERT_TRUE(writer.SetAlignment(64).ok());
  const std::vector<int64_t> shape = {3};
  ASSERT_TRUE(writer.AddTensor("a", DType::kF32, shape, FloatBytes({1, 2, 3})).ok());
  ASSERT_TRUE(writer.AddTensor("b", DType::kF32, shape, FloatBytes({4, 5, 6})).ok());
  const std::string bytes = writer.Serialize();
  const std::unique_ptr<GgufFile> file = WriteAndOpen(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->GetInt("general.alignment").value(), 64);
  EXPECT_EQ(file->FindTensor("a")->offset, 0u);
  EXPECT_EQ(file->FindTensor("b")->offset, 64u);
  EXPECT_EQ(bytes.size() % 64, 0u);
  // "b"'s data: after the 64-aligned infos, at offset 64 of the data section.
  const float b_values[] = {4, 5, 6};
  EXPECT_EQ(std::memcmp(bytes.data() + bytes.size() - 64, b_values, 12), 0);
}

TEST(GgufWriterTest, AlignmentMustBeAPowerOfTwo) {
  GgufWriter writer;
  EXPECT_EQ(writer.SetAlignment(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.SetAlignment(48).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(writer.SetAlignment(1).ok());
}

TEST(GgufWriterTest, RejectsInconsistentTensors) {
  GgufWriter writer;
  const std::vector<int64_t> two = {2}, none = {}, five = {1, 1, 1, 1, 2}, zero = {0, 2},
                             negative = {-1}, q4_row_33 = {1, 33}, q4_row_64 = {1, 64};
  const std::string eight_bytes(8, '\0');
  ASSERT_TRUE(writer.AddTensor("ok", DType::kF32, two, eight_bytes).ok());
  EXPECT_EQ(writer.AddTensor("ok", DType::kF32, two, eight_bytes).code(),
            absl::StatusCode::kInvalidArgument);  // added twice
  EXPECT_EQ(writer.AddTensor("", DType::kF32, two, eight_bytes).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor(std::string(65, 'n'), DType::kF32, two, eight_bytes).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor("short", DType::kF32, two, std::string(4, '\0')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor("rank0", DType::kF32, none, "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor("rank5", DType::kF32, five, eight_bytes).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor("zero", DType::kF32, zero, "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor("negative", DType::kF32, negative, "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddTensor("q4", GgmlType::kQ4_0, q4_row_33, std::string(18, '\0')).code(),
            absl::StatusCode::kInvalidArgument);
  // 64 Q4_0 elements are two 18-byte blocks.
  EXPECT_TRUE(writer.AddTensor("q4", GgmlType::kQ4_0, q4_row_64, std::string(36, '\0')).ok());
}

TEST(GgufWriterTest, WriteFileReportsAnUnwritablePath) {
  GgufWriter writer;
  EXPECT_FALSE(writer.WriteFile(ScratchPath("no_such_dir") + "/x.gguf").ok());
}

}  // namespace
}  // namespace tessera::gguf
