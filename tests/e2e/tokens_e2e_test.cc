// Tokenize and Detokenize over the wire.
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using TokensTest = E2eTest;

// stories260K's vocabulary (llama2.c tok512) numbers <unk>, <s>, </s> as 0, 1, 2.
constexpr int32_t kBos = 1;

pb::TokenizeResponse Tokenize(pb::InferenceService::Stub& stub, const std::string& text,
                              bool add_special_tokens) {
  pb::TokenizeRequest request;
  request.set_model(kModel);
  request.set_text(text);
  request.set_add_special_tokens(add_special_tokens);
  pb::TokenizeResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub.Tokenize(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

TEST_F(TokensTest, TokenizeDetokenizeRoundTrip) {
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  const pb::TokenizeResponse plain = Tokenize(stub(), text, false);
  ASSERT_GT(plain.token_ids_size(), 0);
  ASSERT_EQ(plain.token_texts_size(), plain.token_ids_size());

  // SentencePiece stores a space as U+2581 and puts one in front of the text.
  std::string joined;
  for (const std::string& piece : plain.token_texts()) joined += piece;
  EXPECT_EQ(absl::StrReplaceAll(joined, {{"\xe2\x96\x81", " "}}), " " + text);

  pb::DetokenizeRequest request;
  request.set_model(kModel);
  *request.mutable_token_ids() = plain.token_ids();
  pb::DetokenizeResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub().Detokenize(&context, request, &response).ok());
  EXPECT_EQ(response.text(), text);
}

TEST_F(TokensTest, SpecialTokensAddBos) {
  const pb::TokenizeResponse plain = Tokenize(stub(), "Lily", false);
  const pb::TokenizeResponse special = Tokenize(stub(), "Lily", true);
  ASSERT_EQ(special.token_ids_size(), plain.token_ids_size() + 1);
  EXPECT_EQ(special.token_ids(0), kBos);
  EXPECT_EQ(special.token_texts(0), "<s>");
  for (int i = 0; i < plain.token_ids_size(); ++i) {
    EXPECT_EQ(special.token_ids(i + 1), plain.token_ids(i));
  }
}

TEST_F(TokensTest, DetokenizeOfHalfACharacterIsValidUtf8) {
  // Byte-fallback tokens <0x00>..<0xFF> follow the three special tokens: <0xC3> is id 198, the
  // lead byte of a two-byte character. Alone it is no text; the reply carries U+FFFD instead.
  pb::DetokenizeRequest request;
  request.set_model(kModel);
  request.add_token_ids(3 + 0xC3);
  pb::DetokenizeResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub().Detokenize(&context, request, &response).ok());
  EXPECT_EQ(response.text(), "\xEF\xBF\xBD");
}

TEST_F(TokensTest, DetokenizeRejectsIdsOutsideTheVocabulary) {
  for (int32_t bad : {-1, 512}) {
    pb::DetokenizeRequest request;
    request.set_model(kModel);
    request.add_token_ids(5);
    request.add_token_ids(bad);
    pb::DetokenizeResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub().Detokenize(&context, request, &response);
    ExpectError(status, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
    EXPECT_EQ(BadFieldOf(status), "token_ids");
  }
}

TEST_F(TokensTest, UnknownModel) {
  pb::TokenizeRequest request;
  request.set_model("ghost");
  request.set_text("hi");
  pb::TokenizeResponse response;
  grpc::ClientContext context;
  ExpectError(stub().Tokenize(&context, request, &response), grpc::StatusCode::NOT_FOUND,
              "MODEL_NOT_FOUND");
}

}  // namespace
}  // namespace tessera::e2e
