// Programmatic dependent launch in captured CUDA graphs: each of our kernels (kernels/cuda/) may
// start while the kernel before it is still finishing, because it waits for its inputs itself
// (grid_dependency.cuh). See the CUDA programming guide's programmatic dependent launch.
#pragma once

#include <cuda_runtime.h>

namespace tessera::cuda {

// Turns each edge of `graph` between two kernels into a programmatic edge from the first's
// launch-completion port: the second launches once every block of the first has begun. Every
// kernel of the graph must be one of ours (cuBLAS's do not wait for their inputs, and the runtime
// refuses such edges from them); edges into other nodes stay full dependencies. Call it on a
// captured graph before instantiating it.
cudaError_t OverlapKernelLaunches(cudaGraph_t graph);

}  // namespace tessera::cuda
