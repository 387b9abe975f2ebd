#include "core/format/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/format/byte_cursor.h"
#include "core/format/gguf_types.h"
#include "core/format/model_file_error.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera::gguf {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxKeyBytes = 65535;      // the spec's limit
constexpr uint64_t kMaxTensorNameBytes = 64;  // the spec's limit
constexpr uint32_t kMaxDims = 4;
// Smallest possible encodings, to reject a count before anything is reserved for it:
// key length + value type + a one-byte value.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;
// name length + n_dims + one dim + type + offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// A GGUF string: a uint64 length and that many bytes; the view points into the mapped file.
absl::StatusOr<std::string_view> ReadString(ByteCursor& in, std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(const uint64_t length, in.Read<uint64_t>(what));
  return in.ReadBytes(length, what);
}

std::string TypeDescription(const Value& value) {
  if (value.type != ValueType::kArray) return std::string(ValueTypeName(value.type));
  return absl::StrFormat("array of %s", ValueTypeName(value.element_type));
}

bool IsSigned(ValueType type) {
  return type == ValueType::kInt8 || type == ValueType::kInt16 || type == ValueType::kInt32 ||
         type == ValueType::kInt64;
}

bool IsUnsigned(ValueType type) {
  return type == ValueType::kUint8 || type == ValueType::kUint16 ||
         type == ValueType::kUint32 || type == ValueType::kUint64;
}

bool IsInteger(ValueType type) { return IsSigned(type) || IsUnsigned(type); }

bool IsFloat(ValueType type) { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }

bool IsString(ValueType type) { return type == ValueType::kString; }

bool IsBool(ValueType type) { return type == ValueType::kBool; }

bool IsNumber(ValueType type) { return IsInteger(type) || IsFloat(type); }

// The value of an integer as int64; nullopt for a uint64 above INT64_MAX.
std::optional<int64_t> IntegerValue(const Value& value) {
  if (IsSigned(value.type)) return value.i;
  if (value.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(value.u);
}

absl::StatusOr<ValueType> ReadValueType(ByteCursor& in, std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(const uint32_t type, in.Read<uint32_t>(what));
  if (!IsKnownValueType(type)) return in.Error(absl::StrFormat("%s %d is unknown", what, type));
  return static_cast<ValueType>(type);
}

// `what` names the metadata entry ("metadata 'general.name'"); it is built once per entry, not
// once per array element.
absl::StatusOr<Value> ReadValue(ByteCursor& in, ValueType type, const std::string& what,
                                int depth);

absl::StatusOr<Value> ReadArray(ByteCursor& in, const std::string& what, int depth) {
  if (depth >= kMaxArrayDepth) {
    return in.Error(
        absl::StrFormat("%s nests arrays deeper than %d levels", what, kMaxArrayDepth));
  }
  Value array;
  array.type = ValueType::kArray;
  TESSERA_ASSIGN_OR_RETURN(array.element_type,
                           ReadValueType(in, absl::StrFormat("%s array element type", what)));
  TESSERA_ASSIGN_OR_RETURN(const uint64_t count,
                           in.Read<uint64_t>(absl::StrFormat("%s array length", what)));
  // A string needs at least its length field; an array its element type and length.
  const uint64_t min_element_bytes =
      ScalarValueSize(array.element_type).value_or(IsString(array.element_type) ? 8 : 12);
  if (count > in.remaining() / min_element_bytes) {
    return in.Error(absl::StrFormat(
        "%s claims %d elements of type %s, more than the %d bytes left in the file can hold",
        what, count, ValueTypeName(array.element_type), in.remaining()));
  }
  array.elements.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    TESSERA_ASSIGN_OR_RETURN(Value element, ReadValue(in, array.element_type, what, depth + 1));
    array.elements.push_back(std::move(element));
  }
  return array;
}

absl::StatusOr<Value> ReadValue(ByteCursor& in, ValueType type, const std::string& what,
                                int depth) {
  Value value;
  value.type = type;
  switch (type) {
    case ValueType::kUint8: {
      TESSERA_ASSIGN_OR_RETURN(value.u, in.Read<uint8_t>(what));
      break;
    }
    case ValueType::kUint16: {
      TESSERA_ASSIGN_OR_RETURN(value.u, in.Read<uint16_t>(what));
      break;
    }
    case ValueType::kUint32: {
      TESSERA_ASSIGN_OR_RETURN(value.u, in.Read<uint32_t>(what));
      break;
    }
    case ValueType::kUint64: {
      TESSERA_ASSIGN_OR_RETURN(value.u, in.Read<uint64_t>(what));
      break;
    }
    case ValueType::kInt8: {
      TESSERA_ASSIGN_OR_RETURN(value.i, in.Read<int8_t>(what));
      break;
    }
    case ValueType::kInt16: {
      TESSERA_ASSIGN_OR_RETURN(value.i, in.Read<int16_t>(what));
      break;
    }
    case ValueType::kInt32: {
      TESSERA_ASSIGN_OR_RETURN(value.i, in.Read<int32_t>(what));
      break;
    }
    case ValueType::kInt64: {
      TESSERA_ASSIGN_OR_RETURN(value.i, in.Read<int64_t>(what));
      break;
    }
    case ValueType::kFloat32: {
      TESSERA_ASSIGN_OR_RETURN(value.f, in.Read<float>(what));
      break;
    }
    case ValueType::kFloat64: {
      TESSERA_ASSIGN_OR_RETURN(value.f, in.Read<double>(what));
      break;
    }
    case ValueType::kBool: {
      TESSERA_ASSIGN_OR_RETURN(value.u, in.Read<uint8_t>(what));
      if (value.u > 1) {
        return in.Error(absl::StrFormat("%s holds a bool of %d, neither 0 nor 1", what, value.u));
      }
      break;
    }
    case ValueType::kString: {
      TESSERA_ASSIGN_OR_RETURN(value.s, ReadString(in, what));
      break;
    }
    case ValueType::kArray:
      return ReadArray(in, what, depth);
  }
  return value;
}

absl::Status ReadMagic(ByteCursor& in) {
  TESSERA_ASSIGN_OR_RETURN(const uint32_t magic, in.Read<uint32_t>("magic"));
  if (std::memcmp(&magic, kMagic, sizeof(kMagic)) != 0) {
    return in.Error(
        absl::StrFormat("not a GGUF file (magic 0x%08x, expected \"GGUF\")", magic));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ReadVersion(ByteCursor& in) {
  TESSERA_ASSIGN_OR_RETURN(const uint32_t version, in.Read<uint32_t>("version"));
  if (version == 2 || version == 3) return version;
  const uint32_t swapped = __builtin_bswap32(version);
  if (swapped == 2 || swapped == 3) return in.Error("big-endian GGUF files are not supported");
  // Version 1 used 32-bit counts and lengths; nothing current writes it.
  return in.Error(
      absl::StrFormat("unsupported GGUF version %d (only versions 2 and 3 are read)", version));
}

// Rejects a count that the rest of the file cannot possibly hold, before reserving for it.
absl::Status CheckCount(const ByteCursor& in, uint64_t count, uint64_t min_bytes_each,
                        std::string_view what) {
  if (count <= in.remaining() / min_bytes_each) return absl::OkStatus();
  return in.Error(absl::StrFormat("header claims %d %s, more than the %d bytes left can hold",
                                  count, what, in.remaining()));
}

absl::StatusOr<std::string_view> ReadKey(ByteCursor& in, uint64_t index) {
  TESSERA_ASSIGN_OR_RETURN(const std::string_view key,
                           ReadString(in, absl::StrFormat("key of metadata entry %d", index)));
  if (key.empty()) return in.Error(absl::StrFormat("metadata entry %d has an empty key", index));
  if (key.size() > kMaxKeyBytes) {
    return in.Error(absl::StrFormat("metadata entry %d has a key of %d bytes; at most %d are "
                                    "allowed", index, key.size(), kMaxKeyBytes));
  }
  return key;
}

// general.alignment when present: a uint32 power of two.
absl::StatusOr<uint64_t> DataAlignment(const ByteCursor& in, const Value* alignment) {
  if (alignment == nullptr) return kDefaultAlignment;
  if (alignment->type != ValueType::kUint32) {
    return in.Error(absl::StrFormat("metadata '%s' has type %s, expected uint32", kAlignmentKey,
                                    TypeDescription(*alignment)));
  }
  if (!std::has_single_bit(alignment->u)) {
    return in.Error(absl::StrFormat("metadata '%s' is %d, expected a power of two",
                                    kAlignmentKey, alignment->u));
  }
  return alignment->u;
}

// Checks on a tensor info that hold wherever it comes from: read from a file or handed to
// FromParts. `tensor` names the tensor in errors ("tensor 'x'").
absl::Status CheckTensorName(std::string_view path, std::string_view name, uint64_t index) {
  if (name.empty()) {
    return InvalidModelFileError(path, absl::StrFormat("tensor %d has an empty name", index));
  }
  if (name.size() > kMaxTensorNameBytes) {
    return InvalidModelFileError(
        path, absl::StrFormat("tensor '%s' has a name of %d bytes; at most %d are allowed", name,
                              name.size(), kMaxTensorNameBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckDimCount(std::string_view path, std::string_view tensor, uint64_t n_dims) {
  if (n_dims >= 1 && n_dims <= kMaxDims) return absl::OkStatus();
  return InvalidModelFileError(
      path, absl::StrFormat("%s has %d dimensions; 1 to %d are allowed", tensor, n_dims, kMaxDims));
}

absl::Status TooManyElements(std::string_view path, std::string_view tensor) {
  return InvalidModelFileError(path,
                               absl::StrFormat("%s has more elements than fit in 64 bits", tensor));
}

// The bytes of a tensor of ggml type `type` (its number in the file) with `dims` (file order),
// once every dimension is positive, the type is known, rows are whole blocks of it and the
// counts fit in 64 bits.
absl::StatusOr<size_t> TensorBytes(std::string_view path, std::string_view tensor, uint32_t type,
                                   const std::vector<int64_t>& dims) {
  int64_t elements = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] <= 0) {
      return InvalidModelFileError(
          path, absl::StrFormat("%s has a %s dimension %d", tensor,
                                dims[d] == 0 ? "zero-length" : "negative", d));
    }
    if (__builtin_mul_overflow(elements, dims[d], &elements)) {
      return TooManyElements(path, tensor);
    }
  }
  const std::optional<GgmlTypeTraits> traits = GgmlTypeTraitsOf(type);
  if (!traits) {
    return InvalidModelFileError(path,
                                 absl::StrFormat("%s has unknown ggml type %d", tensor, type));
  }
  // ggml quantizes each row on its own, so a row must be whole blocks.
  if (dims[0] % traits->block_size != 0) {
    return InvalidModelFileError(
        path, absl::StrFormat(
                  "%s of type %s has rows of %d elements, not a multiple of its block size %d",
                  tensor, GgmlTypeName(static_cast<GgmlType>(type)), dims[0],
                  traits->block_size));
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(elements / traits->block_size, traits->type_size, &bytes)) {
    return InvalidModelFileError(
        path, absl::StrFormat("%s has more bytes than fit in 64 bits", tensor));
  }
  return static_cast<size_t>(bytes);
}

// One tensor info, checked on its own; its place in the data section is checked afterwards.
// `name` receives the name as a view into the mapped file.
absl::StatusOr<TensorInfo> ReadTensorInfo(ByteCursor& in, std::string_view path, uint64_t index,
                                          std::string_view& name) {
  TESSERA_ASSIGN_OR_RETURN(name, ReadString(in, absl::StrFormat("name of tensor %d", index)));
  TESSERA_RETURN_IF_ERROR(CheckTensorName(path, name, index));
  const std::string tensor = absl::StrFormat("tensor '%s'", name);
  TensorInfo info;
  info.name = std::string(name);
  TESSERA_ASSIGN_OR_RETURN(const uint32_t n_dims,
                           in.Read<uint32_t>(absl::StrFormat("%s dimension count", tensor)));
  TESSERA_RETURN_IF_ERROR(CheckDimCount(path, tensor, n_dims));
  for (uint32_t d = 0; d < n_dims; ++d) {
    TESSERA_ASSIGN_OR_RETURN(const uint64_t dim,
                             in.Read<uint64_t>(absl::StrFormat("%s dimension %d", tensor, d)));
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return TooManyElements(path, tensor);
    }
    info.dims.push_back(static_cast<int64_t>(dim));
  }
  TESSERA_ASSIGN_OR_RETURN(const uint32_t type,
                           in.Read<uint32_t>(absl::StrFormat("%s type", tensor)));
  TESSERA_ASSIGN_OR_RETURN(info.bytes, TensorBytes(path, tensor, type, info.dims));
  info.type = static_cast<GgmlType>(type);
  TESSERA_ASSIGN_OR_RETURN(info.offset, in.Read<uint64_t>(absl::StrFormat("%s offset", tensor)));
  return info;
}

// Tensors may sit in any order in the data section, but no two may share bytes.
absl::Status CheckNoOverlap(const ByteCursor& in, const std::vector<TensorInfo>& tensors) {
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors.size());
  for (const TensorInfo& info : tensors) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& before = *by_offset[i - 1];
    const TensorInfo& after = *by_offset[i];
    // Both end inside the file by now, so the sum cannot overflow.
    if (before.offset + before.bytes > after.offset) {
      return in.Error(absl::StrFormat(
          "tensors '%s' (offset %d, %d bytes) and '%s' (offset %d) overlap", before.name,
          before.offset, before.bytes, after.name, after.offset));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  file->mapped_.emplace(*std::move(mapped));
  TESSERA_RETURN_IF_ERROR(file->Parse());
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromParts(
    std::string path, std::string image, std::vector<TensorInfo> tensors,
    std::shared_ptr<const void> keep_alive) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(path);
  file->image_ = std::move(image);
  file->keep_alive_ = std::move(keep_alive);
  TESSERA_RETURN_IF_ERROR(file->Parse());
  TESSERA_RETURN_IF_ERROR(file->AddTensors(std::move(tensors)));
  return file;
}

absl::Status GgufFile::Parse() {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(bytes().data());
  const uint64_t size = bytes().size();
  ByteCursor in(path_, base, size);
  TESSERA_RETURN_IF_ERROR(ReadMagic(in));
  TESSERA_ASSIGN_OR_RETURN(version_, ReadVersion(in));
  TESSERA_ASSIGN_OR_RETURN(const uint64_t tensor_count, in.Read<uint64_t>("tensor count"));
  TESSERA_ASSIGN_OR_RETURN(const uint64_t metadata_count, in.Read<uint64_t>("metadata count"));
  TESSERA_RETURN_IF_ERROR(
      CheckCount(in, metadata_count, kMinMetadataEntryBytes, "metadata entries"));

  metadata_.reserve(metadata_count);
  for (uint64_t i = 0; i < metadata_count; ++i) {
    TESSERA_ASSIGN_OR_RETURN(const std::string_view key, ReadKey(in, i));
    const std::string what = absl::StrFormat("metadata '%s'", key);
    TESSERA_ASSIGN_OR_RETURN(const ValueType type,
                             ReadValueType(in, absl::StrFormat("%s value type", what)));
    TESSERA_ASSIGN_OR_RETURN(Value value, ReadValue(in, type, what, /*depth=*/0));
    if (!metadata_index_.emplace(key, metadata_.size()).second) {
      return in.Error(absl::StrFormat("metadata key '%s' appears more than once", key));
    }
    metadata_.emplace_back(key, std::move(value));
  }
  TESSERA_ASSIGN_OR_RETURN(const uint64_t alignment, DataAlignment(in, Find(kAlignmentKey)));

  TESSERA_RETURN_IF_ERROR(CheckCount(in, tensor_count, kMinTensorInfoBytes, "tensors"));
  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    std::string_view name;  // points into the mapped file, so the index key stays valid
    TESSERA_ASSIGN_OR_RETURN(TensorInfo info, ReadTensorInfo(in, path_, i, name));
    if (!tensor_index_.emplace(name, tensors_.size()).second) {
      return in.Error(absl::StrFormat("tensor name '%s' appears more than once", name));
    }
    tensors_.push_back(std::move(info));
  }

  // The data section starts at the first aligned offset after the tensor infos.
  const uint64_t data_start = (in.offset() + alignment - 1) / alignment * alignment;
  for (TensorInfo& info : tensors_) {
    if (info.offset % alignment != 0) {
      return in.Error(absl::StrFormat("tensor '%s' has offset %d, not a multiple of the alignment "
                                      "%d", info.name, info.offset, alignment));
    }
    if (data_start > size || info.offset > size - data_start ||
        info.bytes > size - data_start - info.offset) {
      return in.Error(absl::StrFormat(
          "tensor '%s' extends past the end of the file (data section at %d + offset %d + %d "
          "bytes > file size %d)",
          info.name, data_start, info.offset, info.bytes, size));
    }
    info.data = base + data_start + info.offset;
  }
  return CheckNoOverlap(in, tensors_);
}

absl::Status GgufFile::AddTensors(std::vector<TensorInfo> tensors) {
  // No reallocation below, so the names the index points at stay where they are.
  tensors_.reserve(tensors_.size() + tensors.size());
  for (TensorInfo& info : tensors) {
    TESSERA_RETURN_IF_ERROR(CheckTensorName(path_, info.name, tensors_.size()));
    const std::string tensor = absl::StrFormat("tensor '%s'", info.name);
    TESSERA_RETURN_IF_ERROR(CheckDimCount(path_, tensor, info.dims.size()));
    TESSERA_ASSIGN_OR_RETURN(const size_t bytes, TensorBytes(path_, tensor,
                                                             static_cast<uint32_t>(info.type),
                                                             info.dims));
    if (info.bytes != bytes) {
      return InvalidModelFileError(
          path_, absl::StrFormat("%s has %d bytes of data; its type %s and dims need %d", tensor,
                                 info.bytes, GgmlTypeName(info.type), bytes));
    }
    if (info.data == nullptr) {
      return InvalidModelFileError(path_, absl::StrFormat("%s has no data", tensor));
    }
    tensors_.push_back(std::move(info));
    if (!tensor_index_.emplace(tensors_.back().name, tensors_.size() - 1).second) {
      return InvalidModelFileError(
          path_, absl::StrFormat("tensor name '%s' appears more than once", tensors_.back().name));
    }
  }
  return absl::OkStatus();
}

const Value* GgufFile::Find(std::string_view key) const {
  const auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

// The value under `key` if its type passes `accepts` (for arrays: its element type), else an
// error naming the missing key or the type found and `expected`.
absl::StatusOr<const Value*> Require(const GgufFile& file, std::string_view key, bool is_array,
                                     bool (*accepts)(ValueType), std::string_view expected) {
  const Value* value = file.Find(key);
  if (value == nullptr) {
    return InvalidModelFileError(file.path(), absl::StrFormat("missing metadata key '%s'", key));
  }
  const bool matches = is_array ? value->type == ValueType::kArray && accepts(value->element_type)
                                : accepts(value->type);
  if (!matches) {
    return InvalidModelFileError(
        file.path(), absl::StrFormat("metadata key '%s' has type %s, expected %s", key,
                                     TypeDescription(*value), expected));
  }
  return value;
}

absl::StatusOr<int64_t> ToInt(const GgufFile& file, std::string_view key, const Value& value) {
  const std::optional<int64_t> i = IntegerValue(value);
  if (!i) {
    return InvalidModelFileError(
        file.path(),
        absl::StrFormat("metadata key '%s' holds %d, which does not fit in int64", key, value.u));
  }
  return *i;
}

float ToFloat(const Value& number) {
  if (IsFloat(number.type)) return static_cast<float>(number.f);
  if (IsSigned(number.type)) return static_cast<float>(number.i);
  return static_cast<float>(number.u);
}

}  // namespace

absl::StatusOr<std::string_view> GgufFile::GetString(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* value,
                           Require(*this, key, /*is_array=*/false, IsString, "string"));
  return value->s;
}

absl::StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* value,
                           Require(*this, key, /*is_array=*/false, IsInteger, "an integer"));
  return ToInt(*this, key, *value);
}

absl::StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* value,
                           Require(*this, key, /*is_array=*/false, IsFloat,
                                   "float32 or float64"));
  return value->f;
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* value,
                           Require(*this, key, /*is_array=*/false, IsBool, "bool"));
  return value->u != 0;
}

absl::StatusOr<std::vector<std::string_view>> GgufFile::GetStringArray(
    std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* array,
                           Require(*this, key, /*is_array=*/true, IsString, "array of string"));
  std::vector<std::string_view> strings;
  strings.reserve(array->elements.size());
  for (const Value& element : array->elements) strings.push_back(element.s);
  return strings;
}

absl::StatusOr<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* array,
                           Require(*this, key, /*is_array=*/true, IsNumber, "array of numbers"));
  std::vector<float> numbers;
  numbers.reserve(array->elements.size());
  for (const Value& element : array->elements) numbers.push_back(ToFloat(element));
  return numbers;
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Value* array,
                           Require(*this, key, /*is_array=*/true, IsInteger, "array of integers"));
  std::vector<int64_t> numbers;
  numbers.reserve(array->elements.size());
  for (const Value& element : array->elements) {
    TESSERA_ASSIGN_OR_RETURN(const int64_t number, ToInt(*this, key, element));
    numbers.push_back(number);
  }
  return numbers;
}

absl::StatusOr<Tensor> GgufFile::GetTensor(std::string_view name) const {
  const TensorInfo* info = FindTensor(name);
  if (info == nullptr) {
    return InvalidModelFileError(path_, absl::StrFormat("has no tensor '%s'", name));
  }
  const std::optional<DType> dtype = DTypeOf(info->type);
  if (!dtype) {
    return WithReason(absl::UnimplementedError(absl::StrFormat(
                          "%s: tensor '%s' has type %s; only F32, F16 and BF16 are supported",
                          path_, name, GgmlTypeName(info->type))),
                      reason::kUnsupportedTensorType);
  }
  // Kernels load whole elements, which an alignment below the element size would split.
  if (reinterpret_cast<uintptr_t>(info->data) % DTypeSize(*dtype) != 0) {
    return InvalidModelFileError(
        path_, absl::StrFormat("tensor '%s' is not aligned to its element size", name));
  }
  Tensor tensor;
  tensor.data = info->data;
  tensor.dtype = *dtype;
  tensor.rank = static_cast<int>(info->dims.size());
  // The file lists the innermost dimension first; a Tensor lists it last.
  for (int d = 0; d < tensor.rank; ++d) tensor.shape[d] = info->dims[tensor.rank - 1 - d];
  return tensor;
}

}  // namespace tessera::gguf
