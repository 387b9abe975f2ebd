#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch_overlap.h"

namespace tessera::cuda {

cudaError_t OverlapKernelLaunches(cudaGraph_t graph) {
  size_t n = 0;
  TESSERA_CUDA_RETURN_IF_ERROR(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &n));
  std::vector<cudaGraphNode_t> from(n), to(n);
  std::vector<cudaGraphEdgeData> edges(n);
  TESSERA_CUDA_RETURN_IF_ERROR(cudaGraphGetEdges(graph, from.data(), to.data(), edges.data(), &n));
  // The next kernel launches once every block of this one has begun, so its launch and its
  // blocks' start overlap this one's tail; its blocks take only the slots this one leaves free.
  // (Launching it as the last block exits instead, cudaGraphKernelNodePortProgrammatic, measured
  // 141.2 against 144.1 tokens/s for the llama-3-8b shape and 790 against 838 for qwen2.5-0.5b.)
  const cudaGraphEdgeData overlapping{.from_port = cudaGraphKernelNodePortLaunchCompletion,
                                      .type = cudaGraphDependencyTypeProgrammatic};
  for (size_t i = 0; i < n; ++i) {
    cudaGraphNodeType from_type, to_type;
    TESSERA_CUDA_RETURN_IF_ERROR(cudaGraphNodeGetType(from[i], &from_type));
    TESSERA_CUDA_RETURN_IF_ERROR(cudaGraphNodeGetType(to[i], &to_type));
    if (from_type != cudaGraphNodeTypeKernel || to_type != cudaGraphNodeTypeKernel) continue;
    TESSERA_CUDA_RETURN_IF_ERROR(
        cudaGraphRemoveDependencies(graph, &from[i], &to[i], &edges[i], 1));
    TESSERA_CUDA_RETURN_IF_ERROR(
        cudaGraphAddDependencies(graph, &from[i], &to[i], &overlapping, 1));
  }
  return cudaSuccess;
}

}  // namespace tessera::cuda
