// Turns a run-time DType into a compile-time element type, in this one place, so that an
// unsupported dtype fails the same way in every launcher. Included by .cu files only.
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with T the storage type of `dtype`; returns what f returns.
template <typename F>
cudaError_t DispatchDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      return f(TypeTag<float>{});
    case DType::kF16:
      return f(TypeTag<__half>{});
    case DType::kBF16:
      return f(TypeTag<__nv_bfloat16>{});
  }
  return cudaErrorInvalidValue;
}

// Widens one stored element to fp32.
__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

// Two 16-bit elements packed in 32 bits (the lower first), widened to fp32; the tag names their
// type.
__device__ __forceinline__ float2 ToFloat2(uint32_t packed, __half) {
  return __half22float2(*reinterpret_cast<const __half2*>(&packed));
}
__device__ __forceinline__ float2 ToFloat2(uint32_t packed, __nv_bfloat16) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&packed));
}

// Four consecutive stored elements widened to fp32; p aligned to their size (16 or 8 bytes).
__device__ __forceinline__ float4 Load4AsFloat(const float* p) {
  return *reinterpret_cast<const float4*>(p);
}
template <typename T>
__device__ __forceinline__ float4 Load4AsFloat(const T* p) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  const float2 low = ToFloat2(raw.x, T{});
  const float2 high = ToFloat2(raw.y, T{});
  return {low.x, low.y, high.x, high.y};
}

// Narrows an fp32 value to the stored type, rounding to nearest even like cpu/half.h.
__device__ __forceinline__ void FromFloat(float v, float* out) { *out = v; }
__device__ __forceinline__ void FromFloat(float v, __half* out) { *out = __float2half_rn(v); }
__device__ __forceinline__ void FromFloat(float v, __nv_bfloat16* out) {
  *out = __float2bfloat16_rn(v);
}

// Element i of an array whose type is known only at run time (a bias, a norm's weights), widened;
// and an fp32 value stored as element i of such an array. For the odd element of a kernel's
// epilogue: hot loops dispatch the type at compile time.
__device__ __forceinline__ float ReadAsFloat(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kF32:
      return static_cast<const float*>(data)[i];
    case DType::kF16:
      return ToFloat(static_cast<const __half*>(data)[i]);
    case DType::kBF16:
      return ToFloat(static_cast<const __nv_bfloat16*>(data)[i]);
  }
  return 0.0f;
}
__device__ __forceinline__ void StoreFromFloat(float v, void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kF32:
      static_cast<float*>(data)[i] = v;
      break;
    case DType::kF16:
      FromFloat(v, static_cast<__half*>(data) + i);
      break;
    case DType::kBF16:
      FromFloat(v, static_cast<__nv_bfloat16*>(data) + i);
      break;
  }
}

// Two fp32 values narrowed and stored together (8 or 4 bytes); p aligned to that size.
__device__ __forceinline__ void Store2FromFloat(float a, float b, float* p) {
  *reinterpret_cast<float2*>(p) = {a, b};
}
__device__ __forceinline__ void Store2FromFloat(float a, float b, __half* p) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(a, b);
}
__device__ __forceinline__ void Store2FromFloat(float a, float b, __nv_bfloat16* p) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
}

// Whether a pointer may take the 16-byte accesses below (launchers choose a vectorized path).
inline bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Eight consecutive stored elements widened to fp32, and eight fp32 values narrowed and stored:
// 16-byte accesses (two for fp32), so that a memory-bound kernel keeps enough bytes in flight; p
// aligned to 16 bytes.
template <typename T>
__device__ __forceinline__ void Load8AsFloat(const T* p, float (&v)[8]) {
  if constexpr (sizeof(T) == 4) {
    const float4 low = reinterpret_cast<const float4*>(p)[0];
    const float4 high = reinterpret_cast<const float4*>(p)[1];
    v[0] = low.x, v[1] = low.y, v[2] = low.z, v[3] = low.w;
    v[4] = high.x, v[5] = high.y, v[6] = high.z, v[7] = high.w;
  } else {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 pair = ToFloat2(words[i], T{});
      v[2 * i] = pair.x;
      v[2 * i + 1] = pair.y;
    }
  }
}
template <typename T>
__device__ __forceinline__ void Store8FromFloat(const float (&v)[8], T* p) {
  if constexpr (sizeof(T) == 4) {
    reinterpret_cast<float4*>(p)[0] = {v[0], v[1], v[2], v[3]};
    reinterpret_cast<float4*>(p)[1] = {v[4], v[5], v[6], v[7]};
  } else {
    T narrowed[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) FromFloat(v[i], narrowed + i);
    *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(narrowed);
  }
}

}  // namespace tessera::cuda
