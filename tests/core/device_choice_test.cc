#include "core/engine/device_choice.h"

#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(DeviceChoiceTest, DefaultIsTheFirstGpuWhenThereIsOne) {
  EXPECT_EQ(ChooseDevice("", 2)->Name(), "cuda:0");
  EXPECT_EQ(ChooseDevice("", 0)->Name(), "cpu");
}

TEST(DeviceChoiceTest, NamedDevices) {
  EXPECT_EQ(ChooseDevice("cpu", 2)->Name(), "cpu");
  EXPECT_EQ(ChooseDevice("cuda", 2)->Name(), "cuda:0");
  EXPECT_EQ(ChooseDevice("cuda:1", 2)->Name(), "cuda:1");
  EXPECT_FALSE(ChooseDevice("cpu", 2)->cuda);
  EXPECT_EQ(ChooseDevice("cuda:1", 2)->cuda_device, 1);
}

TEST(DeviceChoiceTest, AbsentOrMalformedDevicesNameWhatExists) {
  for (const char* name : {"cuda:2", "cuda:-1", "cuda:", "cuda:x", "gpu", "CPU", "cuda0"}) {
    const absl::Status status = ChooseDevice(name, 2).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(status.message().find("\"cuda:0\" to \"cuda:1\""), std::string::npos) << status;
  }
  const absl::Status no_gpu = ChooseDevice("cuda", 0).status();
  EXPECT_EQ(no_gpu.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_gpu.message().find("no CUDA device"), std::string::npos) << no_gpu;
}

}  // namespace
}  // namespace tessera
