// Hopper's bulk copies from global into shared memory (cp.async.bulk, sm_90 and later, which the
// build targets): the SM's copy engine moves whole rows while the issuing warp goes on, and an
// mbarrier in shared memory counts the bytes that have landed. Unlike loads into registers, the
// bytes in flight are limited only by shared memory, so a block can have tens of kilobytes in
// flight at a few registers a thread. (PTX ISA: "Data Movement and Conversion Instructions:
// cp.async.bulk" and "mbarrier".)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tessera::cuda {

__device__ __forceinline__ uint32_t SharedAddress(const void* pointer) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(pointer));
}

// Readies `barrier` for one arrival; the thread's later bulk copies may complete on it.
__device__ __forceinline__ void InitCopyBarrier(uint64_t* barrier) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(SharedAddress(barrier)) : "memory");
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// The one arrival on `barrier`, announcing the bytes its copies will deliver.
__device__ __forceinline__ void ExpectCopyBytes(uint64_t* barrier, uint32_t bytes) {
  asm volatile(
      "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(SharedAddress(barrier)),
      "r"(bytes)
      : "memory");
}

// Copies `bytes` (a multiple of 16; both addresses 16-byte aligned) from global memory `from` to
// shared memory `to`, completing on `barrier`.
__device__ __forceinline__ void BulkCopyToShared(void* to, const void* from, uint32_t bytes,
                                                 uint64_t* barrier) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::
          "r"(SharedAddress(to)),
      "l"(from), "r"(bytes), "r"(SharedAddress(barrier))
      : "memory");
}

// Returns once the copies announced on `barrier` have all landed (its first phase completed).
__device__ __forceinline__ void WaitForCopies(uint64_t* barrier) {
  uint32_t done = 0;
  while (!done) {
    asm volatile(
        "{\n"
        ".reg .pred complete;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 complete, [%1], 0;\n"
        "selp.u32 %0, 1, 0, complete;\n"
        "}\n"
        : "=r"(done)
        : "r"(SharedAddress(barrier))
        : "memory");
  }
}

}  // namespace tessera::cuda
