#include "core/format/safetensors.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/format/byte_cursor.h"
#include "core/format/json_file.h"
#include "core/format/model_file_error.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera::safetensors {
namespace {

// The reference implementation refuses larger headers, so no valid file has one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

struct DtypeTraits {
  std::string_view name;
  int bits;                            // F4 and F6 pack several elements into a byte
  std::optional<DType> compute_dtype;  // the kernels' type, for the dtypes they compute on
};

// Every dtype the reference implementation knows (safetensors 0.8, with the FNUZ fp8 types).
constexpr std::array<DtypeTraits, 22> kDtypes = {{
    {"BOOL", 8, std::nullopt},        {"F4", 4, std::nullopt},
    {"F6_E2M3", 6, std::nullopt},     {"F6_E3M2", 6, std::nullopt},
    {"U8", 8, std::nullopt},          {"I8", 8, std::nullopt},
    {"F8_E5M2", 8, std::nullopt},     {"F8_E4M3", 8, std::nullopt},
    {"F8_E8M0", 8, std::nullopt},     {"F8_E4M3FNUZ", 8, std::nullopt},
    {"F8_E5M2FNUZ", 8, std::nullopt}, {"I16", 16, std::nullopt},
    {"U16", 16, std::nullopt},        {"F16", 16, DType::kF16},
    {"BF16", 16, DType::kBF16},       {"I32", 32, std::nullopt},
    {"U32", 32, std::nullopt},        {"F32", 32, DType::kF32},
    {"C64", 64, std::nullopt},        {"F64", 64, std::nullopt},
    {"I64", 64, std::nullopt},        {"U64", 64, std::nullopt},
}};

const DtypeTraits* FindDtype(std::string_view name) {
  const auto it = std::find_if(kDtypes.begin(), kDtypes.end(),
                               [&](const DtypeTraits& dtype) { return dtype.name == name; });
  return it == kDtypes.end() ? nullptr : &*it;
}

// A JSON value that must be a non-negative integer fitting in int64 (shapes and offsets).
std::optional<uint64_t> NonNegativeInteger(const nlohmann::json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  const uint64_t number = value.get<uint64_t>();
  if (number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return number;
}

// Reads one header entry on its own; its place among the others is checked afterwards. The
// returned info has no data pointer yet.
absl::StatusOr<TensorInfo> ReadTensorEntry(const ByteCursor& in, const std::string& name,
                                           const nlohmann::json& entry) {
  const std::string tensor = absl::StrFormat("tensor '%s'", name);
  if (!entry.is_object()) {
    return in.Error(absl::StrFormat("%s is %s, expected an object", tensor, JsonTypeName(entry)));
  }
  for (const std::string_view field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) {
      return in.Error(absl::StrFormat("%s has no \"%s\"", tensor, field));
    }
  }
  TensorInfo info;
  info.name = name;

  const nlohmann::json& dtype_name = entry["dtype"];
  const DtypeTraits* dtype =
      dtype_name.is_string() ? FindDtype(dtype_name.get_ref<const std::string&>()) : nullptr;
  if (dtype == nullptr) {
    return in.Error(absl::StrFormat("%s has unknown dtype %s", tensor, dtype_name.dump()));
  }
  info.dtype = dtype->name;

  const nlohmann::json& shape = entry["shape"];
  if (!shape.is_array()) {
    return in.Error(absl::StrFormat("%s has a shape that is %s, expected an array", tensor,
                                    JsonTypeName(shape)));
  }
  uint64_t elements = 1;
  for (const nlohmann::json& dim : shape) {
    const std::optional<uint64_t> size = NonNegativeInteger(dim);
    if (!size) {
      return in.Error(absl::StrFormat("%s has shape %s; dimensions must be non-negative "
                                      "integers below 2^63", tensor, shape.dump()));
    }
    if (__builtin_mul_overflow(elements, *size, &elements)) {
      return in.Error(absl::StrFormat("%s has shape %s, more elements than fit in 64 bits",
                                      tensor, shape.dump()));
    }
    info.shape.push_back(static_cast<int64_t>(*size));
  }

  const nlohmann::json& offsets = entry["data_offsets"];
  const std::optional<uint64_t> begin =
      offsets.is_array() && offsets.size() == 2 ? NonNegativeInteger(offsets[0]) : std::nullopt;
  const std::optional<uint64_t> end =
      offsets.is_array() && offsets.size() == 2 ? NonNegativeInteger(offsets[1]) : std::nullopt;
  if (!begin || !end || *begin > *end) {
    return in.Error(absl::StrFormat(
        "%s has data_offsets %s; expected [begin, end] with 0 <= begin <= end", tensor,
        offsets.dump()));
  }

  uint64_t bits = 0;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dtype->bits), &bits)) {
    return in.Error(absl::StrFormat("%s has more bytes than fit in 64 bits", tensor));
  }
  if (bits % 8 != 0) {
    return in.Error(absl::StrFormat("%s holds %d elements of %s, which do not fill whole bytes",
                                    tensor, elements, dtype->name));
  }
  info.offset = *begin;
  info.bytes = *end - *begin;
  if (info.bytes != bits / 8) {
    return in.Error(absl::StrFormat(
        "%s has data_offsets [%d, %d] spanning %d bytes, but %d elements of %s take %d", tensor,
        *begin, *end, info.bytes, elements, dtype->name, bits / 8));
  }
  return info;
}

absl::StatusOr<std::map<std::string, std::string, std::less<>>> ReadMetadata(
    const ByteCursor& in, const nlohmann::json& metadata) {
  if (!metadata.is_object()) {
    return in.Error(absl::StrFormat("\"%s\" is %s, expected an object of strings", kMetadataKey,
                                    JsonTypeName(metadata)));
  }
  std::map<std::string, std::string, std::less<>> strings;
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) {
      return in.Error(absl::StrFormat("\"%s\" value of \"%s\" is %s, expected a string",
                                      kMetadataKey, key, JsonTypeName(value)));
    }
    strings.emplace(key, value.get<std::string>());
  }
  return strings;
}

// The format requires the tensors, in offset order, to tile the data section: each one starts
// where the one before it ends, and the last ends where the file ends. No byte belongs to two
// tensors or to none.
absl::Status CheckCoverage(const ByteCursor& in, const std::vector<TensorInfo>& by_offset,
                           uint64_t data_bytes) {
  uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& info : by_offset) {
    if (info.offset < covered) {
      return in.Error(absl::StrFormat(
          "tensors '%s' (data_offsets [%d, %d]) and '%s' (data_offsets [%d, %d]) overlap",
          previous->name, previous->offset, covered, info.name, info.offset,
          info.offset + info.bytes));
    }
    if (info.offset > covered) {
      return in.Error(absl::StrFormat(
          "bytes [%d, %d) of the data section belong to no tensor; tensors must be contiguous",
          covered, info.offset));
    }
    covered = info.offset + info.bytes;
    previous = &info;
  }
  if (covered != data_bytes) {
    return in.Error(absl::StrFormat(
        "the data section has %d bytes but its tensors cover only the first %d", data_bytes,
        covered));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(std::move(mapped)));
  TESSERA_RETURN_IF_ERROR(file->Parse());
  return file;
}

absl::Status SafetensorsFile::Parse() {
  ByteCursor in(file_.path(), file_.data(), file_.size());
  TESSERA_ASSIGN_OR_RETURN(const uint64_t header_bytes, in.Read<uint64_t>("header length"));
  if (header_bytes > kMaxHeaderBytes) {
    return in.Error(absl::StrFormat("header length %d exceeds the format's limit of %d bytes",
                                    header_bytes, kMaxHeaderBytes));
  }
  TESSERA_ASSIGN_OR_RETURN(const std::string_view header, in.ReadBytes(header_bytes, "header"));
  if (header.empty() || header.front() != '{') {
    return in.Error("header does not start with '{'");
  }
  TESSERA_ASSIGN_OR_RETURN(const nlohmann::json json, ParseJson(path(), "header", header));
  if (!json.is_object()) {
    return in.Error(absl::StrFormat("header is %s, expected an object", JsonTypeName(json)));
  }

  data_bytes_ = in.remaining();
  for (const auto& [key, value] : json.items()) {
    if (key == kMetadataKey) {
      TESSERA_ASSIGN_OR_RETURN(metadata_, ReadMetadata(in, value));
      continue;
    }
    TESSERA_ASSIGN_OR_RETURN(TensorInfo info, ReadTensorEntry(in, key, value));
    if (info.offset + info.bytes > data_bytes_) {
      return in.Error(absl::StrFormat(
          "tensor '%s' has data_offsets [%d, %d] past the end of the %d-byte data section",
          info.name, info.offset, info.offset + info.bytes, data_bytes_));
    }
    info.data = file_.data() + in.offset() + info.offset;
    tensors_.push_back(std::move(info));
  }
  // Stable, so errors about two tensors at one offset always name them in the same order.
  std::stable_sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::pair(a.offset, a.bytes) < std::pair(b.offset, b.bytes);
  });
  TESSERA_RETURN_IF_ERROR(CheckCoverage(in, tensors_, data_bytes_));
  for (size_t i = 0; i < tensors_.size(); ++i) tensor_index_.emplace(tensors_[i].name, i);
  return absl::OkStatus();
}

const TensorInfo* SafetensorsFile::FindTensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<Tensor> SafetensorsFile::GetTensor(std::string_view name) const {
  const TensorInfo* info = FindTensor(name);
  if (info == nullptr) {
    return InvalidModelFileError(path(), absl::StrFormat("has no tensor '%s'", name));
  }
  const std::optional<DType> dtype = FindDtype(info->dtype)->compute_dtype;
  if (!dtype) {
    return WithReason(absl::UnimplementedError(absl::StrFormat(
                          "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 are supported",
                          path(), name, info->dtype)),
                      reason::kUnsupportedTensorType);
  }
  if (info->shape.size() > kMaxTensorRank) {
    return WithReason(absl::UnimplementedError(absl::StrFormat(
                          "%s: tensor '%s' has %d dimensions; at most %d are supported", path(),
                          name, info->shape.size(), kMaxTensorRank)),
                      reason::kUnsupportedTensorType);
  }
  // Kernels load whole elements, which a header length that is not a multiple of the element
  // size would split. An empty tensor has none to split.
  if (info->bytes > 0 && reinterpret_cast<uintptr_t>(info->data) % DTypeSize(*dtype) != 0) {
    return InvalidModelFileError(
        path(), absl::StrFormat("tensor '%s' is not aligned to its %d-byte elements", name,
                                DTypeSize(*dtype)));
  }
  Tensor tensor;
  tensor.data = info->data;
  tensor.dtype = *dtype;
  tensor.rank = static_cast<int>(info->shape.size());
  std::copy(info->shape.begin(), info->shape.end(), tensor.shape);
  return tensor;
}

}  // namespace tessera::safetensors
