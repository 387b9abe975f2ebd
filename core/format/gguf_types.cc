#include "core/format/gguf_types.h"

#include <string_view>

namespace tessera::gguf {
namespace {

struct GgmlTypeRow {
  GgmlType type;
  std::string_view name;
  GgmlTypeTraits traits;
};

constexpr int64_t kQK = 32;    // elements per block of the legacy quantized types
constexpr int64_t kQK_K = 256; // elements per super-block of the k-quant, i-quant and ternary types

// Block and byte sizes as ggml defines them (gguf-py GGML_QUANT_SIZES, ggml type_traits).
constexpr GgmlTypeRow kGgmlTypes[] = {
    {GgmlType::kF32, "F32", {1, 4}},
    {GgmlType::kF16, "F16", {1, 2}},
    {GgmlType::kQ4_0, "Q4_0", {kQK, 18}},
    {GgmlType::kQ4_1, "Q4_1", {kQK, 20}},
    {GgmlType::kQ5_0, "Q5_0", {kQK, 22}},
    {GgmlType::kQ5_1, "Q5_1", {kQK, 24}},
    {GgmlType::kQ8_0, "Q8_0", {kQK, 34}},
    {GgmlType::kQ8_1, "Q8_1", {kQK, 36}},
    {GgmlType::kQ2_K, "Q2_K", {kQK_K, 84}},
    {GgmlType::kQ3_K, "Q3_K", {kQK_K, 110}},
    {GgmlType::kQ4_K, "Q4_K", {kQK_K, 144}},
    {GgmlType::kQ5_K, "Q5_K", {kQK_K, 176}},
    {GgmlType::kQ6_K, "Q6_K", {kQK_K, 210}},
    {GgmlType::kQ8_K, "Q8_K", {kQK_K, 292}},
    {GgmlType::kIQ2_XXS, "IQ2_XXS", {kQK_K, 66}},
    {GgmlType::kIQ2_XS, "IQ2_XS", {kQK_K, 74}},
    {GgmlType::kIQ3_XXS, "IQ3_XXS", {kQK_K, 98}},
    {GgmlType::kIQ1_S, "IQ1_S", {kQK_K, 50}},
    {GgmlType::kIQ4_NL, "IQ4_NL", {kQK, 18}},
    {GgmlType::kIQ3_S, "IQ3_S", {kQK_K, 110}},
    {GgmlType::kIQ2_S, "IQ2_S", {kQK_K, 82}},
    {GgmlType::kIQ4_XS, "IQ4_XS", {kQK_K, 136}},
    {GgmlType::kI8, "I8", {1, 1}},
    {GgmlType::kI16, "I16", {1, 2}},
    {GgmlType::kI32, "I32", {1, 4}},
    {GgmlType::kI64, "I64", {1, 8}},
    {GgmlType::kF64, "F64", {1, 8}},
    {GgmlType::kIQ1_M, "IQ1_M", {kQK_K, 56}},
    {GgmlType::kBF16, "BF16", {1, 2}},
    {GgmlType::kTQ1_0, "TQ1_0", {kQK_K, 54}},
    {GgmlType::kTQ2_0, "TQ2_0", {kQK_K, 66}},
};

const GgmlTypeRow* FindGgmlType(uint32_t type) {
  for (const GgmlTypeRow& row : kGgmlTypes) {
    if (static_cast<uint32_t>(row.type) == type) return &row;
  }
  return nullptr;
}

}  // namespace

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "uint8";
    case ValueType::kInt8: return "int8";
    case ValueType::kUint16: return "uint16";
    case ValueType::kInt16: return "int16";
    case ValueType::kUint32: return "uint32";
    case ValueType::kInt32: return "int32";
    case ValueType::kFloat32: return "float32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "uint64";
    case ValueType::kInt64: return "int64";
    case ValueType::kFloat64: return "float64";
  }
  return "unknown";
}

bool IsKnownValueType(uint32_t type) {
  return type <= static_cast<uint32_t>(ValueType::kFloat64);
}

std::optional<size_t> ScalarValueSize(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string_view GgmlTypeName(GgmlType type) {
  const GgmlTypeRow* row = FindGgmlType(static_cast<uint32_t>(type));
  return row == nullptr ? "unknown" : row->name;
}

std::optional<GgmlTypeTraits> GgmlTypeTraitsOf(uint32_t type) {
  const GgmlTypeRow* row = FindGgmlType(type);
  if (row == nullptr) return std::nullopt;
  return row->traits;
}

std::optional<DType> DTypeOf(GgmlType type) {
  switch (type) {
    case GgmlType::kF32: return DType::kF32;
    case GgmlType::kF16: return DType::kF16;
    case GgmlType::kBF16: return DType::kBF16;
    default: return std::nullopt;
  }
}

GgmlType GgmlTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kF32: return GgmlType::kF32;
    case DType::kF16: return GgmlType::kF16;
    case DType::kBF16: return GgmlType::kBF16;
  }
  return GgmlType::kF32;
}

}  // namespace tessera::gguf
