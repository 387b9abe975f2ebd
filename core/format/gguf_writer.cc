#include "core/format/gguf_writer.h"

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "core/format/gguf_types.h"
#include "core/util/status_macros.h"

namespace tessera::gguf {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr size_t kMaxTensorNameBytes = 64;
constexpr size_t kMaxRank = 4;

uint64_t AlignUp(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

absl::Status GgufWriter::SetAlignment(uint32_t alignment) {
  if (!std::has_single_bit(alignment)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF alignment must be a power of two, got %d", alignment));
  }
  alignment_ = alignment;
  alignment_set_ = true;
  return absl::OkStatus();
}

void GgufWriter::AddString(std::string_view key, std::string_view value) {
  AppendKey(key, ValueType::kString);
  AppendString(metadata_, value);
}

void GgufWriter::AddValue(std::string_view key, const Value& value) {
  AppendKey(key, value.type);
  AppendValue(value);
}

void GgufWriter::AppendString(std::string& out, std::string_view s) {
  AppendFixed<uint64_t>(out, s.size());
  out.append(s);
}

void GgufWriter::AppendKey(std::string_view key, ValueType type) {
  ++metadata_count_;
  AppendString(metadata_, key);
  AppendFixed(metadata_, static_cast<uint32_t>(type));
}

void GgufWriter::AppendArrayHeader(ValueType element_type, uint64_t count) {
  AppendFixed(metadata_, static_cast<uint32_t>(element_type));
  AppendFixed(metadata_, count);
}

// The payload of `value` encoded by its own type; the type itself is written by the caller.
void GgufWriter::AppendValue(const Value& value) {
  switch (value.type) {
    case ValueType::kUint8: return AppendPayload(static_cast<uint8_t>(value.u));
    case ValueType::kInt8: return AppendPayload(static_cast<int8_t>(value.i));
    case ValueType::kUint16: return AppendPayload(static_cast<uint16_t>(value.u));
    case ValueType::kInt16: return AppendPayload(static_cast<int16_t>(value.i));
    case ValueType::kUint32: return AppendPayload(static_cast<uint32_t>(value.u));
    case ValueType::kInt32: return AppendPayload(static_cast<int32_t>(value.i));
    case ValueType::kUint64: return AppendPayload(value.u);
    case ValueType::kInt64: return AppendPayload(value.i);
    case ValueType::kFloat32: return AppendPayload(static_cast<float>(value.f));
    case ValueType::kFloat64: return AppendPayload(value.f);
    case ValueType::kBool: return AppendPayload(static_cast<uint8_t>(value.u));
    case ValueType::kString: return AppendString(metadata_, value.s);
    case ValueType::kArray:
      AppendArrayHeader(value.element_type, value.elements.size());
      for (const Value& element : value.elements) AppendValue(element);
      return;
  }
}

absl::StatusOr<size_t> CheckedTensorBytes(std::string_view name, GgmlType type,
                                          std::span<const int64_t> shape) {
  const auto invalid = [&](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrFormat("GGUF tensor '%s': %s", name, what));
  };
  if (name.empty() || name.size() > kMaxTensorNameBytes) {
    return invalid(absl::StrFormat("the name must be 1 to %d bytes", kMaxTensorNameBytes));
  }
  if (shape.empty() || shape.size() > kMaxRank) {
    return invalid(absl::StrFormat("rank %d is outside 1..%d", shape.size(), kMaxRank));
  }
  const std::optional<GgmlTypeTraits> traits = GgmlTypeTraitsOf(static_cast<uint32_t>(type));
  if (!traits) return invalid(absl::StrFormat("unknown ggml type %d", static_cast<uint32_t>(type)));
  int64_t elements = 1;
  for (const int64_t dim : shape) {
    if (dim <= 0) return invalid(absl::StrFormat("dimension %d is not positive", dim));
    if (__builtin_mul_overflow(elements, dim, &elements)) return invalid("too many elements");
  }
  if (shape.back() % traits->block_size != 0) {
    return invalid(absl::StrFormat("rows of %d elements are not whole %s blocks of %d",
                                   shape.back(), GgmlTypeName(type), traits->block_size));
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(elements / traits->block_size, traits->type_size, &bytes)) {
    return invalid("too many bytes");
  }
  return static_cast<size_t>(bytes);
}

absl::Status GgufWriter::AddTensor(std::string_view name, DType dtype,
                                   std::span<const int64_t> shape, std::string_view data) {
  return AddTensor(name, GgmlTypeOf(dtype), shape, data);
}

absl::Status GgufWriter::AddTensor(std::string_view name, GgmlType type,
                                   std::span<const int64_t> shape, std::string_view data) {
  auto owned = std::make_shared<const std::string>(data);
  const std::string_view copy = *owned;  // taken before `owned` is moved from
  return AddPendingTensor(name, type, shape, copy, std::move(owned));
}

absl::Status GgufWriter::AddTensorView(std::string_view name, GgmlType type,
                                       std::span<const int64_t> shape, std::string_view data) {
  return AddPendingTensor(name, type, shape, data, /*owned=*/nullptr);
}

absl::Status GgufWriter::AddPendingTensor(std::string_view name, GgmlType type,
                                          std::span<const int64_t> shape, std::string_view data,
                                          std::shared_ptr<const std::string> owned) {
  for (const PendingTensor& tensor : tensors_) {
    if (tensor.name == name) {
      return absl::InvalidArgumentError(
          absl::StrFormat("GGUF tensor '%s': added twice", name));
    }
  }
  TESSERA_ASSIGN_OR_RETURN(const size_t bytes, CheckedTensorBytes(name, type, shape));
  if (data.size() != bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "GGUF tensor '%s': %d bytes of data given, the shape needs %d", name, data.size(), bytes));
  }
  tensors_.push_back(PendingTensor{std::string(name), type,
                                   std::vector<int64_t>(shape.rbegin(), shape.rend()), data,
                                   std::move(owned)});
  return absl::OkStatus();
}

std::string GgufWriter::SerializeHead() const {
  std::string out(kMagic, sizeof(kMagic));
  AppendFixed(out, version_);
  AppendFixed<uint64_t>(out, tensors_.size());
  AppendFixed<uint64_t>(out, metadata_count_ + (alignment_set_ ? 1 : 0));
  out += metadata_;
  if (alignment_set_) {
    AppendString(out, "general.alignment");
    AppendFixed(out, static_cast<uint32_t>(ValueType::kUint32));
    AppendFixed(out, alignment_);
  }

  uint64_t offset = 0;  // from the start of the data section
  for (const PendingTensor& tensor : tensors_) {
    AppendString(out, tensor.name);
    AppendFixed<uint32_t>(out, tensor.dims.size());
    for (const int64_t dim : tensor.dims) AppendFixed<uint64_t>(out, dim);
    AppendFixed(out, static_cast<uint32_t>(tensor.type));
    AppendFixed(out, offset);
    offset = AlignUp(offset + tensor.data.size(), alignment_);
  }
  // A file without tensors has no data section to align.
  if (!tensors_.empty()) out += PaddingAfter(out.size());
  return out;
}

std::string GgufWriter::PaddingAfter(uint64_t bytes) const {
  return std::string(AlignUp(bytes, alignment_) - bytes, '\0');
}

std::string GgufWriter::Serialize() const {
  std::string out = SerializeHead();
  for (const PendingTensor& tensor : tensors_) {
    out += tensor.data;
    out += PaddingAfter(tensor.data.size());
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("cannot create %s", path));
  }
  const auto write = [file](std::string_view bytes) {
    return std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  };
  bool written = write(SerializeHead());
  for (const PendingTensor& tensor : tensors_) {
    if (!written) break;
    written = write(tensor.data) && write(PaddingAfter(tensor.data.size()));
  }
  const int write_errno = errno;
  if (std::fclose(file) != 0 || !written) {
    return absl::ErrnoToStatus(written ? errno : write_errno,
                               absl::StrFormat("cannot write %s", path));
  }
  return absl::OkStatus();
}

}  // namespace tessera::gguf
