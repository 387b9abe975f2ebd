// Several clients generating at once, each on its own connection, get exactly what each would
// get alone.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using ConcurrencyTest = E2eTest;

TEST_F(ConcurrencyTest, ConcurrentClientsGetTheirOwnResults) {
  const std::vector<std::string> prompts = {"Once upon a time", "Lily saw a dog",
                                            "The sun was hot", "Tom had a red ball",
                                            "One day, a bird", "The little cat"};
  std::vector<GenerateResult> alone;
  for (const std::string& prompt : prompts) {
    alone.push_back(Generate(stub(), GreedyRequest(prompt, 24)));
    ASSERT_TRUE(alone.back().status.ok()) << alone.back().status.error_message();
  }

  constexpr int kRounds = 3;
  std::vector<std::vector<GenerateResult>> together(prompts.size());
  std::vector<std::thread> clients;
  for (size_t c = 0; c < prompts.size(); ++c) {
    clients.emplace_back([&, c] {
      std::unique_ptr<pb::InferenceService::Stub> own = NewStub();
      for (int round = 0; round < kRounds; ++round) {
        pb::GenerateRequest request = GreedyRequest(prompts[c], 24);
        request.set_request_id(absl::StrCat("client-", c, "-round-", round));
        together[c].push_back(Generate(*own, request));
      }
    });
  }
  for (std::thread& client : clients) client.join();

  for (size_t c = 0; c < prompts.size(); ++c) {
    for (const GenerateResult& result : together[c]) {
      SCOPED_TRACE(prompts[c]);
      ASSERT_TRUE(result.status.ok()) << result.status.error_message();
      EXPECT_EQ(result.token_ids, alone[c].token_ids);
      EXPECT_EQ(result.text, alone[c].text);
      EXPECT_EQ(result.finish_reason, alone[c].finish_reason);
    }
  }
}

}  // namespace
}  // namespace tessera::e2e
