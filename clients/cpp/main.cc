// tessera: a command-line client for a Tessera inference server.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "clients/cpp/command_context.h"
#include "clients/cpp/command_line.h"
#include "clients/cpp/error_output.h"
#include "clients/cpp/generate_command.h"
#include "clients/cpp/model_commands.h"
#include "clients/cpp/server_commands.h"
#include "clients/cpp/server_connection.h"
#include "clients/cpp/token_commands.h"
#include "clients/cpp/usage.h"

namespace tessera::cli {
namespace {

// Handled here rather than through `run`: it needs the table of commands and no server.
constexpr absl::string_view kHelp = "help";

std::vector<CommandSpec> AllCommands() {
  std::vector<CommandSpec> commands;
  for (std::vector<CommandSpec> group :
       {ModelCommands(), ServerCommands(), GenerateCommands(), TokenCommands()}) {
    for (CommandSpec& command : group) commands.push_back(std::move(command));
  }
  commands.push_back({.name = kHelp,
                      .arguments = "[COMMAND]",
                      .summary = "Show usage, or a command's flags.",
                      .max_arguments = 1});
  return commands;
}

// `tessera help [COMMAND]`.
int RunHelp(const std::vector<std::string>& topic, const std::vector<CommandSpec>& commands,
            const std::vector<FlagSpec>& global_flags) {
  if (topic.empty()) {
    PrintUsage(commands, global_flags, std::cout);
    return kExitOk;
  }
  for (const CommandSpec& command : commands) {
    if (command.name == topic[0]) {
      PrintCommandUsage(command, global_flags, std::cout);
      return kExitOk;
    }
  }
  return ReportUsageError("unknown command '" + topic[0] + "'");
}

int Run(const std::vector<std::string>& args) {
  const std::vector<CommandSpec> commands = AllCommands();
  const std::vector<FlagSpec> global_flags = ServerFlags();
  if (args.empty()) {
    PrintUsage(commands, global_flags, std::cerr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h") return RunHelp({}, commands, global_flags);

  ParsedArgs parsed;
  if (absl::Status status = ParseCommandLine(args, global_flags, commands, &parsed); !status.ok()) {
    return ReportUsageError(status.message(), parsed.command ? parsed.command->name : "");
  }
  const CommandSpec& command = *parsed.command;
  if (command.name == kHelp) return RunHelp(parsed.arguments, commands, global_flags);
  if (parsed.help) {
    PrintCommandUsage(command, global_flags, std::cout);
    return kExitOk;
  }
  absl::StatusOr<ServerOptions> server = ServerOptionsFrom(parsed);
  if (!server.ok()) return ReportUsageError(server.status().message(), command.name);

  std::unique_ptr<inference::v1::InferenceService::Stub> stub = ConnectToServer(*server);
  return command.run(CommandContext{.args = parsed, .stub = *stub, .timeout = server->timeout});
}

}  // namespace
}  // namespace tessera::cli

int main(int argc, char** argv) {
  return tessera::cli::Run(std::vector<std::string>(argv + 1, argv + argc));
}
