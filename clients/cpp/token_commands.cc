#include "clients/cpp/token_commands.h"

#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/cpp/command_context.h"
#include "clients/cpp/error_output.h"

namespace tessera::cli {
namespace {

namespace v1 = inference::v1;

const FlagSpec kModelFlag = {
    .name = "model", .value = "NAME", .help = "the loaded model whose tokenizer to use",
    .required = true};

// Prints one "<id>\t<piece>" line per token; pieces are C-escaped so that whitespace and control
// characters stay visible, UTF-8 such as SentencePiece's "▁" is kept as is.
int RunTokenize(const CommandContext& context) {
  v1::TokenizeRequest request;
  request.set_model(*context.args.Last("model"));
  request.set_text(context.args.arguments[0]);
  request.set_add_special_tokens(context.args.Has("bos"));
  v1::TokenizeResponse response;
  grpc::ClientContext call;
  context.PrepareCall(call);
  if (grpc::Status status = context.stub.Tokenize(&call, request, &response); !status.ok()) {
    return ReportRpcError(status);
  }
  for (int i = 0; i < response.token_ids_size(); ++i) {
    const std::string piece = i < response.token_texts_size() ? response.token_texts(i) : "";
    std::cout << response.token_ids(i) << "\t" << absl::Utf8SafeCEscape(piece) << "\n";
  }
  return kExitOk;
}

int RunDetokenize(const CommandContext& context) {
  v1::DetokenizeRequest request;
  request.set_model(*context.args.Last("model"));
  for (const std::string& id_text : context.args.arguments) {
    int32_t id = 0;
    if (!absl::SimpleAtoi(id_text, &id)) {
      return ReportUsageError(absl::StrCat("not a token id: '", id_text, "'"), "detokenize");
    }
    request.add_token_ids(id);
  }
  v1::DetokenizeResponse response;
  grpc::ClientContext call;
  context.PrepareCall(call);
  if (grpc::Status status = context.stub.Detokenize(&call, request, &response); !status.ok()) {
    return ReportRpcError(status);
  }
  std::cout << response.text() << "\n";
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> TokenCommands() {
  return {
      {.name = "tokenize",
       .arguments = "TEXT",
       .summary = "Show the ids and vocabulary pieces of TEXT's tokens.",
       .min_arguments = 1,
       .max_arguments = 1,
       .flags = {kModelFlag,
                 {.name = "bos", .help = "add the model's beginning-of-sequence token"}},
       .run = RunTokenize},
      {.name = "detokenize",
       .arguments = "ID...",
       .summary = "Show the text of a sequence of token ids.",
       .min_arguments = 1,
       .max_arguments = -1,
       .flags = {kModelFlag},
       .run = RunDetokenize},
  };
}

}  // namespace tessera::cli
