// Malformed GGUF files: valid files from GgufWriter with one field corrupted, every prefix of the
// real stories260K.gguf, and random corruptions. Each must be refused with INVALID_ARGUMENT,
// reason INVALID_MODEL_FILE and a message that names the file and the problem, never a crash.
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <random>

#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera::gguf {
namespace {

using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::ReadBytes;
using ::tessera::testing::ScratchFile;
using ::tessera::testing::ScratchPath;
using ::tessera::testing::WriteBytes;

constexpr size_t kHeaderBytes = 24;  // magic, version, tensor count, metadata count

std::string FloatBytes(size_t count) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>(i) * 0.5f;
  return std::string(reinterpret_cast<const char*>(values.data()), count * sizeof(float));
}

// A small valid file: three metadata entries and two F32 tensors, "wa" [8, 2] (64 bytes at
// offset 0) and "wb" [8] (32 bytes at offset 64), so the file ends exactly at wb's last byte.
GgufWriter BaseWriter() {
  GgufWriter writer;
  writer.AddString("general.architecture", "llama");
  writer.AddBool("test.flag", true);
  writer.AddUint32("test.count", 5);
  const std::vector<int64_t> wa_shape = {8, 2}, wb_shape = {8};
  EXPECT_TRUE(writer.AddTensor("wa", DType::kF32, wa_shape, FloatBytes(16)).ok());
  EXPECT_TRUE(writer.AddTensor("wb", DType::kF32, wb_shape, FloatBytes(8)).ok());
  return writer;
}

// The offset just past the GGUF string `s` (uint64 length, then the bytes) in `bytes`: where a
// key's value type or a tensor's dimension count starts.
size_t After(const std::string& bytes, std::string_view s) {
  std::string encoded(8, '\0');
  const uint64_t length = s.size();
  std::memcpy(encoded.data(), &length, 8);
  encoded += s;
  const size_t at = bytes.find(encoded);
  EXPECT_NE(at, std::string::npos) << "no string '" << s << "'";
  return at == std::string::npos ? 0 : at + encoded.size();
}

template <typename T>
void Poke(std::string& bytes, size_t at, T value) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Field offsets inside the info of a tensor with `rank` dimensions, from After(name).
size_t DimOffset(size_t after_name, int d) { return after_name + 4 + 8 * d; }
size_t TypeOffset(size_t after_name, int rank) { return after_name + 4 + 8 * rank; }
size_t OffsetOffset(size_t after_name, int rank) { return TypeOffset(after_name, rank) + 4; }

class GgufMalformedTest : public ::testing::Test {
 protected:
  // Writes `bytes` to a scratch file and opens it.
  absl::Status Open(const std::string& bytes) {
    WriteBytes(path_, bytes);
    return GgufFile::Open(path_).status();
  }
  // Opens `bytes` and checks the error names the file and contains `expected`.
  void ExpectRejected(const std::string& bytes, std::string_view expected) {
    const absl::Status status = Open(bytes);
    EXPECT_TRUE(IsInvalidModelFile(status, expected));
    EXPECT_TRUE(IsInvalidModelFile(status, path_ + ": "));
  }

  // Opens `trials` copies of `valid`, each with 1 to 4 random bytes of its first `region` bytes
  // replaced. Each must be refused properly or, if accepted, be safe to use. Returns how many
  // were accepted.
  int OpenCorrupted(const std::string& valid, size_t region, int trials) {
    std::mt19937 random(20240601);
    std::uniform_int_distribution<size_t> position(0, region - 1);
    std::uniform_int_distribution<int> byte(0, 255), flips(1, 4);
    // Each trial rewrites the region in place; the file keeps its size.
    WriteBytes(path_, valid);
    std::fstream out(path_, std::ios::binary | std::ios::in | std::ios::out);
    int accepted = 0;
    for (int trial = 0; trial < trials; ++trial) {
      std::string bytes = valid.substr(0, region);
      for (int i = flips(random); i > 0; --i) {
        bytes[position(random)] = static_cast<char>(byte(random));
      }
      out.seekp(0);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.flush();
      EXPECT_TRUE(out.good());
      absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path_);
      if (!file.ok()) {
        EXPECT_TRUE(IsInvalidModelFile(file.status(), path_)) << "trial " << trial;
        continue;
      }
      ++accepted;
      for (const TensorInfo& info : (*file)->tensors()) {
        const absl::StatusOr<Tensor> tensor = (*file)->GetTensor(info.name);
        if (!tensor.ok()) continue;
        EXPECT_EQ(tensor->bytes(), info.bytes);
        // The last byte must be readable (address sanitizer builds check it).
        volatile uint8_t last = static_cast<const uint8_t*>(tensor->data)[info.bytes - 1];
        (void)last;
      }
    }
    return accepted;
  }

  const ScratchFile scratch_{"malformed.gguf"};
  const std::string& path_ = scratch_.path();
  const std::string base_ = BaseWriter().Serialize();
};

TEST_F(GgufMalformedTest, BaseFileIsValid) {
  const absl::Status status = Open(base_);
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(GgufMalformedTest, Magic) {
  std::string bytes = base_;
  bytes.replace(0, 4, "GGML");
  ExpectRejected(bytes, "not a GGUF file");
}

TEST_F(GgufMalformedTest, Version) {
  std::string bytes = base_;
  Poke<uint32_t>(bytes, 4, 1);
  ExpectRejected(bytes, "unsupported GGUF version 1");
  Poke<uint32_t>(bytes, 4, 4);
  ExpectRejected(bytes, "unsupported GGUF version 4");
  Poke<uint32_t>(bytes, 4, 0x03000000);  // 3, written big-endian
  ExpectRejected(bytes, "big-endian");
}

TEST_F(GgufMalformedTest, CountsBeyondTheFile) {
  std::string bytes = base_;
  Poke<uint64_t>(bytes, 8, uint64_t{1} << 62);
  ExpectRejected(bytes, "header claims 4611686018427387904 tensors");
  bytes = base_;
  Poke<uint64_t>(bytes, 16, ~uint64_t{0});
  ExpectRejected(bytes, "header claims 18446744073709551615 metadata entries");
}

TEST_F(GgufMalformedTest, OneMoreMetadataEntryThanWritten) {
  // The tensor infos are then read as metadata; whatever breaks first must be reported.
  std::string bytes = base_;
  Poke<uint64_t>(bytes, 16, 4);
  ExpectRejected(bytes, "");
}

TEST_F(GgufMalformedTest, KeyLongerThanTheFile) {
  std::string bytes = base_;
  Poke<uint64_t>(bytes, kHeaderBytes, uint64_t{1} << 40);
  ExpectRejected(bytes, "truncated: key of metadata entry 0");
}

TEST_F(GgufMalformedTest, EmptyKey) {
  GgufWriter writer;
  writer.AddUint8("", 1);
  ExpectRejected(writer.Serialize(), "metadata entry 0 has an empty key");
}

TEST_F(GgufMalformedTest, UnknownValueType) {
  std::string bytes = base_;
  Poke<uint32_t>(bytes, After(bytes, "test.count"), 13);
  ExpectRejected(bytes, "metadata 'test.count' value type 13 is unknown");
}

TEST_F(GgufMalformedTest, UnknownArrayElementType) {
  GgufWriter writer;
  writer.AddArray<int32_t>("test.array", std::vector<int32_t>{1, 2});
  std::string bytes = writer.Serialize();
  Poke<uint32_t>(bytes, After(bytes, "test.array") + 4, 99);
  ExpectRejected(bytes, "metadata 'test.array' array element type 99 is unknown");
}

TEST_F(GgufMalformedTest, ArrayLongerThanTheFile) {
  GgufWriter writer;
  writer.AddArray<std::string>("test.strings", std::vector<std::string>{"a", "b"});
  std::string bytes = writer.Serialize();
  Poke<uint64_t>(bytes, After(bytes, "test.strings") + 8, uint64_t{1} << 61);
  ExpectRejected(bytes, "metadata 'test.strings' claims 2305843009213693952 elements");
}

TEST_F(GgufMalformedTest, StringLongerThanTheFile) {
  GgufWriter writer;
  writer.AddString("test.s", "abc");
  std::string bytes = writer.Serialize();
  Poke<uint64_t>(bytes, After(bytes, "test.s") + 4, 1000);
  ExpectRejected(bytes, "truncated: metadata 'test.s' at offset");
}

TEST_F(GgufMalformedTest, BoolOtherThanZeroOrOne) {
  std::string bytes = base_;
  Poke<uint8_t>(bytes, After(bytes, "test.flag") + 4, 2);
  ExpectRejected(bytes, "metadata 'test.flag' holds a bool of 2");
}

TEST_F(GgufMalformedTest, DuplicateKey) {
  GgufWriter writer = BaseWriter();
  writer.AddUint32("test.count", 6);
  ExpectRejected(writer.Serialize(), "metadata key 'test.count' appears more than once");
}

TEST_F(GgufMalformedTest, ArraysNestedTooDeep) {
  Value nested;
  nested.type = ValueType::kArray;
  nested.element_type = ValueType::kInt32;
  for (int depth = 0; depth < 64; ++depth) {
    Value outer;
    outer.type = ValueType::kArray;
    outer.element_type = ValueType::kArray;
    outer.elements.push_back(std::move(nested));
    nested = std::move(outer);
  }
  GgufWriter writer;
  writer.AddValue("test.nested", nested);
  ExpectRejected(writer.Serialize(), "metadata 'test.nested' nests arrays deeper than");
}

TEST_F(GgufMalformedTest, Alignment) {
  GgufWriter not_power_of_two = BaseWriter();
  not_power_of_two.AddUint32("general.alignment", 48);
  ExpectRejected(not_power_of_two.Serialize(),
                 "'general.alignment' is 48, expected a power of two");
  GgufWriter zero = BaseWriter();
  zero.AddUint32("general.alignment", 0);
  ExpectRejected(zero.Serialize(), "'general.alignment' is 0, expected a power of two");
  GgufWriter wrong_type = BaseWriter();
  wrong_type.AddUint64("general.alignment", 32);
  ExpectRejected(wrong_type.Serialize(), "'general.alignment' has type uint64, expected uint32");
}

TEST_F(GgufMalformedTest, DimensionCount) {
  std::string bytes = base_;
  Poke<uint32_t>(bytes, After(bytes, "wa"), 0);
  ExpectRejected(bytes, "tensor 'wa' has 0 dimensions; 1 to 4 are allowed");
  Poke<uint32_t>(bytes, After(bytes, "wa"), 5);
  ExpectRejected(bytes, "tensor 'wa' has 5 dimensions");
}

TEST_F(GgufMalformedTest, ZeroDimension) {
  std::string bytes = base_;
  Poke<uint64_t>(bytes, DimOffset(After(bytes, "wa"), 1), 0);
  ExpectRejected(bytes, "tensor 'wa' has a zero-length dimension 1");
}

TEST_F(GgufMalformedTest, ElementCountOverflows) {
  std::string bytes = base_;
  const size_t wa = After(bytes, "wa");
  Poke<uint64_t>(bytes, DimOffset(wa, 0), uint64_t{1} << 40);
  Poke<uint64_t>(bytes, DimOffset(wa, 1), uint64_t{1} << 40);
  ExpectRejected(bytes, "tensor 'wa' has more elements than fit in 64 bits");
  Poke<uint64_t>(bytes, DimOffset(wa, 0), ~uint64_t{0});
  Poke<uint64_t>(bytes, DimOffset(wa, 1), 1);
  ExpectRejected(bytes, "tensor 'wa' has more elements than fit in 64 bits");
}

TEST_F(GgufMalformedTest, UnknownTensorType) {
  std::string bytes = base_;
  Poke<uint32_t>(bytes, TypeOffset(After(bytes, "wb"), 1), 4);  // Q4_2, removed from ggml
  ExpectRejected(bytes, "tensor 'wb' has unknown ggml type 4");
}

TEST_F(GgufMalformedTest, RowsNotWholeBlocks) {
  GgufWriter writer;
  const std::vector<int64_t> shape = {1, 64};
  ASSERT_TRUE(writer.AddTensor("q", GgmlType::kQ4_0, shape, std::string(36, '\0')).ok());
  std::string bytes = writer.Serialize();
  Poke<uint64_t>(bytes, DimOffset(After(bytes, "q"), 0), 48);
  ExpectRejected(bytes, "tensor 'q' of type Q4_0 has rows of 48 elements, not a multiple of its "
                        "block size 32");
}

TEST_F(GgufMalformedTest, OffsetNotAligned) {
  std::string bytes = base_;
  Poke<uint64_t>(bytes, OffsetOffset(After(bytes, "wb"), 1), 68);
  ExpectRejected(bytes, "tensor 'wb' has offset 68, not a multiple of the alignment 32");
}

TEST_F(GgufMalformedTest, TensorPastTheEnd) {
  std::string bytes = base_;
  const size_t wb_offset = OffsetOffset(After(bytes, "wb"), 1);
  Poke<uint64_t>(bytes, wb_offset, 96);
  ExpectRejected(bytes, "tensor 'wb' extends past the end of the file");
  Poke<uint64_t>(bytes, wb_offset, ~uint64_t{31});  // the largest aligned offset: no wrap-around
  ExpectRejected(bytes, "tensor 'wb' extends past the end of the file");
  ExpectRejected(base_.substr(0, base_.size() - 1), "tensor 'wb' extends past the end of the file");
}

TEST_F(GgufMalformedTest, OverlappingTensors) {
  std::string bytes = base_;
  Poke<uint64_t>(bytes, OffsetOffset(After(bytes, "wb"), 1), 32);  // inside wa's 64 bytes
  ExpectRejected(bytes, "tensors 'wa' (offset 0, 64 bytes) and 'wb' (offset 32) overlap");
}

TEST_F(GgufMalformedTest, DuplicateTensorName) {
  std::string bytes = base_;
  bytes[After(bytes, "wb") - 1] = 'a';
  ExpectRejected(bytes, "tensor name 'wa' appears more than once");
}

TEST_F(GgufMalformedTest, EmptyFile) { ExpectRejected("", "truncated: magic at offset 0"); }

TEST_F(GgufMalformedTest, MissingFile) {
  const absl::Status status = GgufFile::Open(ScratchPath("absent.gguf")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(ErrorReasonOf(status), "MODEL_FILE_NOT_FOUND");
}

TEST_F(GgufMalformedTest, Directory) {
  const std::string directory = ScratchPath("directory.gguf");
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  EXPECT_TRUE(IsInvalidModelFile(GgufFile::Open(directory).status(), "is not a regular file"));
  rmdir(directory.c_str());
}

TEST_F(GgufMalformedTest, TensorDataMisalignedForItsType) {
  // With alignment 1 the data section starts right after the infos, at byte 90 here (header 24
  // + general.alignment entry 33 + info of "w" 33), which is no multiple of 4.
  GgufWriter writer;
  ASSERT_TRUE(writer.SetAlignment(1).ok());
  const std::vector<int64_t> shape = {2};
  ASSERT_TRUE(writer.AddTensor("w", DType::kF32, shape, FloatBytes(2)).ok());
  const absl::Status opened = Open(writer.Serialize());
  ASSERT_TRUE(opened.ok()) << opened;
  const std::unique_ptr<GgufFile> file = GgufFile::Open(path_).value();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file->FindTensor("w")->data) % 4, 2u);
  EXPECT_TRUE(IsInvalidModelFile(file->GetTensor("w").status(),
                                 "tensor 'w' is not aligned to its element size"));
}

TEST_F(GgufMalformedTest, EveryPrefixOfARealModelIsRejected) {
  const std::string model = ReadBytes(std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf");
  ASSERT_EQ(model.size(), 1185376u);
  // Metadata and tensor infos end at 14152 and the data section starts at 14176: every cut up to
  // 14400 bytes, then a few inside the tensor data. The file grows by appending, which is much
  // cheaper than rewriting it for every length.
  std::vector<size_t> lengths;
  for (size_t length = 0; length <= 14400; ++length) lengths.push_back(length);
  for (size_t length : {100000ul, 600000ul, model.size() - 256, model.size() - 1}) {
    lengths.push_back(length);
  }
  std::ofstream file(path_, std::ios::binary | std::ios::trunc);
  size_t written = 0;
  for (size_t length : lengths) {
    file.write(model.data() + written, static_cast<std::streamsize>(length - written));
    file.flush();
    ASSERT_TRUE(file.good());
    written = length;
    const absl::Status status = GgufFile::Open(path_).status();
    ASSERT_TRUE(IsInvalidModelFile(status, path_)) << "prefix of " << length << " bytes";
  }
  file.write(model.data() + written, static_cast<std::streamsize>(model.size() - written));
  file.flush();
  EXPECT_TRUE(GgufFile::Open(path_).ok());
}

TEST_F(GgufMalformedTest, RandomCorruptionNeverCrashes) {
  // A file with every kind of section: strings, arrays, scalars and tensors.
  GgufWriter writer = BaseWriter();
  writer.AddArray<std::string>("test.tokens", std::vector<std::string>{"<s>", "a", "bc"});
  writer.AddArray<float>("test.scores", std::vector<float>{0, -1, -2});
  const std::string small = writer.Serialize();
  const int accepted = OpenCorrupted(small, small.size() - 96, 10000);  // wa, wb: last 96 bytes
  // Most corruptions hit a checked field; some (a byte of a string or a float) are harmless.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 10000);

  const std::string model = ReadBytes(std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf");
  OpenCorrupted(model, 14176, 1000);  // everything before the data section
}

}  // namespace
}  // namespace tessera::gguf
