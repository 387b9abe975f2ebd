// Fails a test, or a test suite (whose fixtures may hold engines), after which more KV blocks
// leaked than before it (KvBlocksLeakedByDestroyedPools: a pool destroyed while a cache it handed
// out was never released). Linked into every test program that runs the engine.
#include <cstdint>

#include "core/engine/kv_cache.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

class KvBlockLeakCheck : public ::testing::EmptyTestEventListener {
 public:
  void OnTestSuiteStart(const ::testing::TestSuite&) override {
    suite_start_ = KvBlocksLeakedByDestroyedPools();
  }
  void OnTestStart(const ::testing::TestInfo&) override {
    test_start_ = KvBlocksLeakedByDestroyedPools();
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    EXPECT_EQ(KvBlocksLeakedByDestroyedPools() - test_start_, 0) << "KV blocks leaked";
  }
  void OnTestSuiteEnd(const ::testing::TestSuite&) override {
    EXPECT_EQ(KvBlocksLeakedByDestroyedPools() - suite_start_, 0) << "KV blocks leaked";
  }

 private:
  int64_t suite_start_ = 0;
  int64_t test_start_ = 0;
};

const bool kRegistered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new KvBlockLeakCheck);
  return true;
}();

}  // namespace
}  // namespace tessera
