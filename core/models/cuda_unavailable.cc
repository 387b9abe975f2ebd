// The CUDA backend of a build without CUDA (CMake compiles this file instead of core/models/cuda/).
#include "core/models/cuda_backend.h"
#include "core/util/error_reason.h"

namespace tessera {

int CudaDeviceCount() { return 0; }

std::vector<CudaDeviceInfo> CudaDevices() { return {}; }

DType DefaultCudaKvCacheDType(const ModelInfo&) { return DType::kF32; }

absl::StatusOr<std::unique_ptr<Model>> UploadToCuda(const Model&, int, const UploadProgress&,
                                                    std::optional<DType>) {
  return WithReason(absl::InvalidArgumentError("this build of Tessera has no CUDA backend"),
                    reason::kUnsupportedDevice);
}

}  // namespace tessera
