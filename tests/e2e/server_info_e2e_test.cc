// GetServerInfo: version, build, the CPU device with its memory, and the loaded models.
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/models/cuda_backend.h"
#include "gmock/gmock.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using ServerInfoTest = E2eTest;

TEST_F(ServerInfoTest, DescribesBuildDeviceAndModels) {
  pb::GetServerInfoResponse info;
  grpc::ClientContext context;
  ASSERT_TRUE(stub().GetServerInfo(&context, pb::GetServerInfoRequest(), &info).ok());

  // The version set by project() in the top-level CMakeLists.txt: MAJOR.MINOR.PATCH.
  EXPECT_THAT(info.version(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  EXPECT_TRUE(absl::StrContains(info.build(), "cpu")) << info.build();

  // The CPU, then each GPU.
  ASSERT_EQ(info.devices_size(), 1 + CudaDeviceCount());
  const pb::DeviceInfo& cpu = info.devices(0);
  EXPECT_EQ(cpu.name(), "cpu");
  EXPECT_FALSE(cpu.description().empty());
  // Independent figure: the physical memory sysconf reports.
  const int64_t physical = int64_t{sysconf(_SC_PHYS_PAGES)} * sysconf(_SC_PAGESIZE);
  EXPECT_GT(cpu.memory_total_bytes(), physical / 2);
  EXPECT_LE(cpu.memory_total_bytes(), physical * 2);
  EXPECT_GT(cpu.memory_free_bytes(), 0);
  EXPECT_LE(cpu.memory_free_bytes(), cpu.memory_total_bytes());
  for (int i = 1; i < info.devices_size(); ++i) {
    const pb::DeviceInfo& gpu = info.devices(i);
    EXPECT_EQ(gpu.name(), absl::StrCat("cuda:", i - 1));
    EXPECT_FALSE(gpu.description().empty());
    EXPECT_GT(gpu.memory_free_bytes(), 0);
    EXPECT_LE(gpu.memory_free_bytes(), gpu.memory_total_bytes());
  }

  ASSERT_EQ(info.models_size(), 1);
  EXPECT_EQ(info.models(0).name(), kModel);
  EXPECT_EQ(info.models(0).path(), kModelPath);
}

}  // namespace
}  // namespace tessera::e2e
