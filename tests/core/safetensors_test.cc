// SafetensorsFile against files written byte by byte from the format's README: values, shapes and
// metadata read back; every malformed header refused with INVALID_MODEL_FILE naming the file and
// the problem; every truncation of a valid file refused without a crash.
#include "core/format/safetensors.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"
#include "tests/core/safetensors_test_util.h"

namespace tessera::safetensors {
namespace {

using ::tessera::testing::AlignedSafetensorsBytes;
using ::tessera::testing::Bytes;
using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::LittleEndianU64;
using ::tessera::testing::SafetensorsBytes;
using ::tessera::testing::ScratchFile;
using ::tessera::testing::WriteBytes;

// Five tensors in data order: F32 [2, 2] = {1, -2.5, 0.5, 3}, F16 [3] = {1, -2, 0.5},
// BF16 [1, 2] = {1, -2.5}, an I64 scalar 7, and an empty F32 [0, 4].
constexpr std::string_view kHeader =
    R"({"__metadata__":{"format":"pt","source":"hand-written"},)"
    R"("w32":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
    R"("w16":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},)"
    R"("wbf":{"dtype":"BF16","shape":[1,2],"data_offsets":[22,26]},)"
    R"("step":{"dtype":"I64","shape":[],"data_offsets":[26,34]},)"
    R"("empty":{"dtype":"F32","shape":[0,4],"data_offsets":[34,34]}})";

std::string Data() {
  return Bytes({0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,    // F32 1.0, -2.5
                0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x40, 0x40,    // F32 0.5, 3.0
                0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38,                // F16 1.0, -2.0, 0.5
                0x80, 0x3f, 0x20, 0xc0,                            // BF16 1.0, -2.5
                0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});  // I64 7
}

template <typename T>
std::vector<T> Values(const Tensor& tensor) {
  std::vector<T> values(tensor.numel());
  std::memcpy(values.data(), tensor.data, values.size() * sizeof(T));
  return values;
}

std::vector<int64_t> Shape(const Tensor& tensor) {
  return std::vector<int64_t>(tensor.shape, tensor.shape + tensor.rank);
}

class SafetensorsTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(std::string_view bytes) {
    WriteBytes(file_.path(), bytes);
    return SafetensorsFile::Open(file_.path());
  }

  ScratchFile file_{"model.safetensors"};
};

TEST_F(SafetensorsTest, ReadsValuesShapesAndMetadata) {
  const std::string bytes = AlignedSafetensorsBytes(kHeader, Data());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = Open(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->file_size(), bytes.size());
  EXPECT_EQ((*file)->data_bytes(), 34u);
  EXPECT_EQ((*file)->metadata(), (std::map<std::string, std::string, std::less<>>{
                                     {"format", "pt"}, {"source", "hand-written"}}));

  absl::StatusOr<Tensor> w32 = (*file)->GetTensor("w32");
  ASSERT_TRUE(w32.ok()) << w32.status();
  EXPECT_EQ(w32->dtype, DType::kF32);
  EXPECT_EQ(Shape(*w32), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Values<float>(*w32), (std::vector<float>{1.0f, -2.5f, 0.5f, 3.0f}));

  absl::StatusOr<Tensor> w16 = (*file)->GetTensor("w16");
  ASSERT_TRUE(w16.ok()) << w16.status();
  EXPECT_EQ(w16->dtype, DType::kF16);
  EXPECT_EQ(Shape(*w16), (std::vector<int64_t>{3}));
  // IEEE half: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800.
  EXPECT_EQ(Values<uint16_t>(*w16), (std::vector<uint16_t>{0x3c00, 0xc000, 0x3800}));

  absl::StatusOr<Tensor> wbf = (*file)->GetTensor("wbf");
  ASSERT_TRUE(wbf.ok()) << wbf.status();
  EXPECT_EQ(wbf->dtype, DType::kBF16);
  EXPECT_EQ(Shape(*wbf), (std::vector<int64_t>{1, 2}));
  // A bfloat16 is the top half of the float32 with the same value.
  std::vector<float> wbf_values;
  for (const uint16_t bits : Values<uint16_t>(*wbf)) {
    const uint32_t widened = static_cast<uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &widened, sizeof(value));
    wbf_values.push_back(value);
  }
  EXPECT_EQ(wbf_values, (std::vector<float>{1.0f, -2.5f}));

  absl::StatusOr<Tensor> empty = (*file)->GetTensor("empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(Shape(*empty), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(empty->numel(), 0);
}

TEST_F(SafetensorsTest, DescribesEveryTensorInDataOrder) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      Open(AlignedSafetensorsBytes(kHeader, Data()));
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::string> names;
  for (const TensorInfo& info : (*file)->tensors()) names.push_back(info.name);
  EXPECT_EQ(names, (std::vector<std::string>{"w32", "w16", "wbf", "step", "empty"}));

  const TensorInfo* step = (*file)->FindTensor("step");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->dtype, "I64");
  EXPECT_TRUE(step->shape.empty());  // a scalar
  EXPECT_EQ(step->offset, 26u);
  EXPECT_EQ(step->bytes, 8u);
  int64_t value;
  std::memcpy(&value, step->data, sizeof(value));
  EXPECT_EQ(value, 7);
  EXPECT_EQ((*file)->FindTensor("absent"), nullptr);
}

TEST_F(SafetensorsTest, RefusesToComputeOnOtherDtypes) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      Open(AlignedSafetensorsBytes(kHeader, Data()));
  ASSERT_TRUE(file.ok()) << file.status();
  const absl::Status status = (*file)->GetTensor("step").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorReasonOf(status), "UNSUPPORTED_TENSOR_TYPE");
  EXPECT_NE(status.message().find("'step' has dtype I64"), std::string::npos) << status;
}

TEST_F(SafetensorsTest, AbsentTensorIsAnError) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      Open(AlignedSafetensorsBytes(kHeader, Data()));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(IsInvalidModelFile((*file)->GetTensor("absent").status(), "has no tensor 'absent'"));
}

// The example file in the reference implementation's documentation: N = 60 ('<'), an I32 [2, 2].
TEST_F(SafetensorsTest, ReadsTheReferenceDocumentationExample) {
  const std::string bytes =
      std::string("<\0\0\0\0\0\0\0", 8) +
      R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})" + std::string(16, '\0');
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = Open(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), 1u);
  EXPECT_EQ((*file)->tensors()[0].dtype, "I32");
  EXPECT_EQ((*file)->tensors()[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE((*file)->metadata().empty());
}

TEST_F(SafetensorsTest, AcceptsAFileWithoutTensors) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = Open(SafetensorsBytes("{}", ""));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->tensors().empty());
}

// Header entries may come in any order; the data section's order is what the offsets say.
TEST_F(SafetensorsTest, AcceptsEntriesOutOfDataOrder) {
  const std::string header =
      R"({"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
      R"("first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      Open(AlignedSafetensorsBytes(header, Bytes({0, 0, 0x80, 0x3f, 0, 0, 0, 0x40})));
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<Tensor> second = (*file)->GetTensor("second");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Values<float>(*second), (std::vector<float>{2.0f}));
  EXPECT_EQ((*file)->tensors()[0].name, "first");
}

// A header length that is not a multiple of 4 leaves an F32 tensor off its element boundary
// (the mapping itself starts on a page boundary).
TEST_F(SafetensorsTest, MisalignedTensorIsRefusedWhenUsed) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} )";
  ASSERT_NE((8 + header.size()) % 4, 0u);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      Open(SafetensorsBytes(header, std::string(4, '\0')));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(IsInvalidModelFile((*file)->GetTensor("w").status(),
                                 "tensor 'w' is not aligned to its 4-byte elements"));
}

TEST_F(SafetensorsTest, RankAboveTensorLimitIsUnsupported) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = Open(AlignedSafetensorsBytes(
      R"({"w":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", std::string(4, 0)));
  ASSERT_TRUE(file.ok()) << file.status();
  const absl::Status status = (*file)->GetTensor("w").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorReasonOf(status), "UNSUPPORTED_TENSOR_TYPE");
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  const absl::Status status = SafetensorsFile::Open(file_.path() + ".absent").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(status), "MODEL_FILE_NOT_FOUND");
}

// Every proper prefix of a valid file is refused cleanly: the header is cut short, or the data
// section no longer covers the tensors.
TEST_F(SafetensorsTest, EveryTruncationIsRefused) {
  const std::string bytes = AlignedSafetensorsBytes(kHeader, Data());
  for (size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_TRUE(IsInvalidModelFile(Open(bytes.substr(0, length)).status(), file_.path() + ": "))
        << "prefix of " << length << " bytes";
  }
  EXPECT_TRUE(Open(bytes).ok());
}

// Random bytes of the header replaced: each file is refused cleanly or, if still valid, every
// tensor it hands out lies inside the file.
TEST_F(SafetensorsTest, CorruptedHeadersAreRefusedOrSafe) {
  const std::string valid = AlignedSafetensorsBytes(kHeader, Data());
  const size_t header_end = valid.size() - Data().size();
  std::mt19937 random(20240601);
  std::uniform_int_distribution<size_t> position(0, header_end - 1);
  std::uniform_int_distribution<int> byte(0, 255), flips(1, 4);
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes = valid;
    for (int i = flips(random); i > 0; --i) {
      bytes[position(random)] = static_cast<char>(byte(random));
    }
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = Open(bytes);
    if (!file.ok()) {
      EXPECT_TRUE(IsInvalidModelFile(file.status(), file_.path() + ": ")) << "trial " << trial;
      continue;
    }
    for (const TensorInfo& info : (*file)->tensors()) {
      EXPECT_LE(info.offset + info.bytes, (*file)->data_bytes()) << "trial " << trial;
      const absl::StatusOr<Tensor> tensor = (*file)->GetTensor(info.name);
      if (tensor.ok()) {
        EXPECT_EQ(tensor->bytes(), info.bytes) << "trial " << trial;
      }
    }
  }
}

struct MalformedCase {
  std::string name;
  std::string bytes;
  std::string expected;  // part of the message
};

std::string OneTensor(std::string_view entry, size_t data_bytes) {
  return AlignedSafetensorsBytes(absl::StrFormat(R"({"t":%s})", entry),
                                 std::string(data_bytes, '\0'));
}

// An F32 [4] entry at the given data offsets.
std::string F32x4(int64_t begin, int64_t end) {
  return absl::StrFormat(R"({"dtype":"F32","shape":[4],"data_offsets":[%d,%d]})", begin, end);
}

std::vector<MalformedCase> MalformedCases() {
  return {
      {"FileShorterThanLength", std::string("\x10\x00\x00", 3), "truncated: header length"},
      {"HeaderLengthPastEnd", LittleEndianU64(1000) + "{}", "truncated: header at offset 8"},
      {"HugeHeaderLength", LittleEndianU64(100'000'001) + "{}", "exceeds the format's limit"},
      {"MaximalHeaderLength", LittleEndianU64(~uint64_t{0}) + "{}", "exceeds the format's limit"},
      {"EmptyHeader", SafetensorsBytes("", ""), "header does not start with '{'"},
      {"HeaderNotAnObject", SafetensorsBytes("[]", ""), "header does not start with '{'"},
      {"LeadingSpace", SafetensorsBytes(" {}", ""), "header does not start with '{'"},
      {"BadJson", SafetensorsBytes(R"({"t":{"dtype":"F32",)", ""), "header is not valid JSON"},
      {"InvalidUtf8", SafetensorsBytes("{\"\xff\":{}}", ""), "header is not valid JSON"},
      {"TrailingGarbage", SafetensorsBytes("{}x", ""), "header is not valid JSON"},
      {"DuplicateTensor",
       AlignedSafetensorsBytes(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                               R"("t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                               std::string(1, '\0')),
       R"(header repeats the key "t")"},
      {"EntryNotAnObject", AlignedSafetensorsBytes(R"({"t":5})", ""),
       "tensor 't' is an integer, expected an object"},
      {"MissingDataOffsets", OneTensor(R"({"dtype":"F32","shape":[4]})", 16),
       R"(tensor 't' has no "data_offsets")"},
      {"MissingDtype", OneTensor(R"({"shape":[4],"data_offsets":[0,16]})", 16),
       R"(tensor 't' has no "dtype")"},
      {"MissingShape", OneTensor(R"({"dtype":"F32","data_offsets":[0,16]})", 16),
       R"(tensor 't' has no "shape")"},
      {"UnknownDtype", OneTensor(R"({"dtype":"F12","shape":[4],"data_offsets":[0,16]})", 16),
       R"(tensor 't' has unknown dtype "F12")"},
      {"LowercaseDtype", OneTensor(R"({"dtype":"f32","shape":[4],"data_offsets":[0,16]})", 16),
       R"(tensor 't' has unknown dtype "f32")"},
      {"DtypeNotAString", OneTensor(R"({"dtype":0,"shape":[4],"data_offsets":[0,16]})", 16),
       "tensor 't' has unknown dtype 0"},
      {"NegativeDimension",
       OneTensor(R"({"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]})", 16),
       "tensor 't' has shape [-1,4]; dimensions must be non-negative"},
      {"FractionalDimension",
       OneTensor(R"({"dtype":"F32","shape":[4.0],"data_offsets":[0,16]})", 16),
       "tensor 't' has shape [4.0]; dimensions must be non-negative"},
      {"ShapeNotAnArray", OneTensor(R"({"dtype":"F32","shape":4,"data_offsets":[0,16]})", 16),
       "tensor 't' has a shape that is an integer, expected an array"},
      {"ElementCountOverflow",
       OneTensor(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]})", 0),
       "more elements than fit in 64 bits"},
      {"ByteCountOverflow",
       OneTensor(R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]})", 0),
       "tensor 't' has more bytes than fit in 64 bits"},
      {"PartialBytes", OneTensor(R"({"dtype":"F4","shape":[3],"data_offsets":[0,2]})", 2),
       "3 elements of F4, which do not fill whole bytes"},
      {"OffsetsReversed", OneTensor(F32x4(16, 0), 16),
       "tensor 't' has data_offsets [16,0]; expected [begin, end] with 0 <= begin <= end"},
      {"NegativeOffset", OneTensor(F32x4(-16, 0), 16),
       "tensor 't' has data_offsets [-16,0]"},
      {"ThreeOffsets", OneTensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,8,16]})", 16),
       "tensor 't' has data_offsets [0,8,16]"},
      {"OffsetsPastData", OneTensor(F32x4(8, 24), 16),
       "tensor 't' has data_offsets [8, 24] past the end of the 16-byte data section"},
      {"SizeMismatch", OneTensor(F32x4(0, 12), 16),
       "tensor 't' has data_offsets [0, 12] spanning 12 bytes, but 4 elements of F32 take 16"},
      {"Overlap",
       AlignedSafetensorsBytes(
           R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
           R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", std::string(24, '\0')),
       "tensors 'a' (data_offsets [0, 16]) and 'b' (data_offsets [8, 24]) overlap"},
      {"SameBytesTwice",
       AlignedSafetensorsBytes(
           R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
           R"("b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(16, '\0')),
       "tensors 'a' (data_offsets [0, 16]) and 'b' (data_offsets [0, 16]) overlap"},
      {"HoleBetweenTensors",
       AlignedSafetensorsBytes(
           R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
           R"("b":{"dtype":"F32","shape":[4],"data_offsets":[20,36]}})", std::string(36, '\0')),
       "bytes [16, 20) of the data section belong to no tensor"},
      {"HoleBeforeFirstTensor", OneTensor(F32x4(4, 20), 20),
       "bytes [0, 4) of the data section belong to no tensor"},
      {"TrailingData", OneTensor(F32x4(0, 16), 20),
       "the data section has 20 bytes but its tensors cover only the first 16"},
      {"MetadataNotAnObject", AlignedSafetensorsBytes(R"({"__metadata__":["pt"]})", ""),
       R"("__metadata__" is an array, expected an object of strings)"},
      {"MetadataValueNotAString",
       AlignedSafetensorsBytes(R"({"__metadata__":{"format":"pt","epochs":3}})", ""),
       R"("__metadata__" value of "epochs" is an integer, expected a string)"},
  };
}

class SafetensorsMalformedTest : public SafetensorsTest,
                                 public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(SafetensorsMalformedTest, IsRefusedNamingFileAndProblem) {
  const absl::Status status = Open(GetParam().bytes).status();
  EXPECT_TRUE(IsInvalidModelFile(status, GetParam().expected));
  EXPECT_TRUE(IsInvalidModelFile(status, file_.path() + ": "));
}

INSTANTIATE_TEST_SUITE_P(AllCases, SafetensorsMalformedTest,
                         ::testing::ValuesIn(MalformedCases()),
                         [](const ::testing::TestParamInfo<MalformedCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace tessera::safetensors
