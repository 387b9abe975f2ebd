// What the numbers in a GGUF file stand for: metadata value types and ggml tensor types, with
// their names and sizes. Shared by the reader and the writer so both agree on every layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/format/gguf.h"
#include "kernels/tensor.h"

namespace tessera::gguf {

// True for the 13 value types of the format.
bool IsKnownValueType(uint32_t type);

// Bytes of one value of a fixed-size type; nullopt for strings and arrays.
std::optional<size_t> ScalarValueSize(ValueType type);

// `type_size` bytes hold one block of `block_size` elements (1 for plain types).
struct GgmlTypeTraits {
  int64_t block_size = 1;
  int64_t type_size = 0;
};

// Sizes of a ggml type given by its number in the file; nullopt for a number ggml does not use.
std::optional<GgmlTypeTraits> GgmlTypeTraitsOf(uint32_t type);

// The compute dtype a ggml type maps to; nullopt for the types that cannot be computed on.
std::optional<DType> DTypeOf(GgmlType type);
GgmlType GgmlTypeOf(DType dtype);

}  // namespace tessera::gguf
