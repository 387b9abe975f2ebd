// GGUF writer: collects metadata entries and tensors, then lays them out as a GGUF file (version
// 3 unless set to 2): header, metadata in the order added, tensor infos, and each tensor's data
// at the next multiple of the alignment.
//
// Metadata is written exactly as given: keys and values are not checked against the spec (no
// duplicate check, no check on general.alignment), so tests can build files that the reader must
// reject. Tensors are checked, because a wrong size would silently shift every later tensor.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "kernels/tensor.h"

namespace tessera::gguf {

// The metadata value type of a C++ type, for GgufWriter::AddArray.
template <typename T> struct ValueTypeOf;
template <> struct ValueTypeOf<uint8_t> { static constexpr ValueType kType = ValueType::kUint8; };
template <> struct ValueTypeOf<int8_t> { static constexpr ValueType kType = ValueType::kInt8; };
template <> struct ValueTypeOf<uint16_t> { static constexpr ValueType kType = ValueType::kUint16; };
template <> struct ValueTypeOf<int16_t> { static constexpr ValueType kType = ValueType::kInt16; };
template <> struct ValueTypeOf<uint32_t> { static constexpr ValueType kType = ValueType::kUint32; };
template <> struct ValueTypeOf<int32_t> { static constexpr ValueType kType = ValueType::kInt32; };
template <> struct ValueTypeOf<uint64_t> { static constexpr ValueType kType = ValueType::kUint64; };
template <> struct ValueTypeOf<int64_t> { static constexpr ValueType kType = ValueType::kInt64; };
template <> struct ValueTypeOf<float> { static constexpr ValueType kType = ValueType::kFloat32; };
template <> struct ValueTypeOf<double> { static constexpr ValueType kType = ValueType::kFloat64; };
template <> struct ValueTypeOf<bool> { static constexpr ValueType kType = ValueType::kBool; };
template <> struct ValueTypeOf<std::string> {
  static constexpr ValueType kType = ValueType::kString;
};

// The bytes of tensor `name` of `type` and row-major `shape`, checked as GgufWriter::AddTensor
// checks them (all but a repeated name): INVALID_ARGUMENT naming the tensor and the problem.
absl::StatusOr<size_t> CheckedTensorBytes(std::string_view name, GgmlType type,
                                          std::span<const int64_t> shape);

class GgufWriter {
 public:
  static constexpr uint32_t kDefaultAlignment = 32;

  // Written into the header as given; any number, so tests can write unsupported versions.
  void set_version(uint32_t version) { version_ = version; }

  // The data alignment, a power of two (INVALID_ARGUMENT otherwise). Once set, it is also
  // written as general.alignment, after the other metadata.
  absl::Status SetAlignment(uint32_t alignment);

  void AddUint8(std::string_view key, uint8_t value) { AddScalar(key, value); }
  void AddInt8(std::string_view key, int8_t value) { AddScalar(key, value); }
  void AddUint16(std::string_view key, uint16_t value) { AddScalar(key, value); }
  void AddInt16(std::string_view key, int16_t value) { AddScalar(key, value); }
  void AddUint32(std::string_view key, uint32_t value) { AddScalar(key, value); }
  void AddInt32(std::string_view key, int32_t value) { AddScalar(key, value); }
  void AddUint64(std::string_view key, uint64_t value) { AddScalar(key, value); }
  void AddInt64(std::string_view key, int64_t value) { AddScalar(key, value); }
  void AddFloat32(std::string_view key, float value) { AddScalar(key, value); }
  void AddFloat64(std::string_view key, double value) { AddScalar(key, value); }
  void AddBool(std::string_view key, bool value) { AddScalar(key, value); }
  void AddString(std::string_view key, std::string_view value);

  // An array of one scalar type or of strings: writer.AddArray<int32_t>("key", ids).
  template <typename T>
  void AddArray(std::string_view key, std::span<const T> values) {
    AppendKey(key, ValueType::kArray);
    AppendArrayHeader(ValueTypeOf<T>::kType, values.size());
    for (const T& value : values) AppendPayload(value);
  }

  // Any value, arrays of arrays included. Strings are copied before this returns.
  void AddValue(std::string_view key, const Value& value);

  // `shape` is row-major, outermost first, as in a Tensor; the file stores it reversed (see
  // TensorInfo::dims). `data` must hold exactly the tensor's bytes. INVALID_ARGUMENT for a
  // repeated name, a rank outside 1..4, a non-positive dimension, rows that are not whole blocks
  // of `type`, or a data size that does not match.
  absl::Status AddTensor(std::string_view name, GgmlType type, std::span<const int64_t> shape,
                         std::string_view data);
  absl::Status AddTensor(std::string_view name, DType dtype, std::span<const int64_t> shape,
                         std::string_view data);
  // As AddTensor, without copying: `data` must stay valid until WriteFile or Serialize returns.
  absl::Status AddTensorView(std::string_view name, GgmlType type, std::span<const int64_t> shape,
                             std::string_view data);

  // The whole file. WriteFile writes it piece by piece, each tensor straight from its data.
  std::string Serialize() const;
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;  // file order: innermost first
    std::string_view data;      // the caller's, or *owned
    std::shared_ptr<const std::string> owned;  // set when AddTensor copied the data
  };

  static_assert(std::endian::native == std::endian::little,
                "GGUF fields are written in place as little-endian values");

  template <typename T>
  void AddScalar(std::string_view key, T value) {
    AppendKey(key, ValueTypeOf<T>::kType);
    AppendPayload(value);
  }
  template <typename T>
  static void AppendFixed(std::string& out, T value) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out.append(bytes, sizeof(T));
  }
  template <typename T>
  void AppendPayload(T value) { AppendFixed(metadata_, value); }
  void AppendPayload(const std::string& value) { AppendString(metadata_, value); }
  absl::Status AddPendingTensor(std::string_view name, GgmlType type,
                                std::span<const int64_t> shape, std::string_view data,
                                std::shared_ptr<const std::string> owned);
  // Everything before the first tensor's data: header, metadata, tensor infos, padding.
  std::string SerializeHead() const;
  // The zeros after `bytes` bytes of data that bring the next tensor to the alignment.
  std::string PaddingAfter(uint64_t bytes) const;
  void AppendKey(std::string_view key, ValueType type);
  void AppendArrayHeader(ValueType element_type, uint64_t count);
  void AppendValue(const Value& value);
  static void AppendString(std::string& out, std::string_view s);

  uint32_t version_ = 3;
  uint32_t alignment_ = kDefaultAlignment;
  bool alignment_set_ = false;
  uint64_t metadata_count_ = 0;
  std::string metadata_;  // the encoded entries, in the order added
  std::vector<PendingTensor> tensors_;
};

}  // namespace tessera::gguf
