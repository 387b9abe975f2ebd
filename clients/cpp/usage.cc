#include "clients/cpp/usage.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tessera::cli {
namespace {

// "--name VALUE", or "--name" for a switch.
std::string FlagSynopsis(const FlagSpec& flag) {
  return flag.value.empty() ? absl::StrCat("--", flag.name)
                            : absl::StrCat("--", flag.name, " ", flag.value);
}

std::string GlobalSynopsis(absl::Span<const FlagSpec> global_flags) {
  std::string synopsis;
  for (const FlagSpec& flag : global_flags) {
    absl::StrAppend(&synopsis, "[", FlagSynopsis(flag), "] ");
  }
  return synopsis;
}

void PrintFlagTable(absl::Span<const FlagSpec> flags, std::ostream& out) {
  for (const FlagSpec& flag : flags) {
    out << absl::StreamFormat("  %-22s %s\n", FlagSynopsis(flag), flag.help);
  }
}

}  // namespace

void PrintUsage(absl::Span<const CommandSpec> commands, absl::Span<const FlagSpec> global_flags,
                std::ostream& out) {
  out << "usage: tessera " << GlobalSynopsis(global_flags) << "COMMAND [FLAGS] [ARGUMENTS]\n\n"
      << "commands:\n";
  for (const CommandSpec& command : commands) {
    out << absl::StreamFormat("  %-28s %s\n", absl::StrCat(command.name, " ", command.arguments),
                              command.summary);
  }
  out << "\nglobal flags:\n";
  PrintFlagTable(global_flags, out);
  out << "\nrun 'tessera help COMMAND' for a command's flags.\n";
}

void PrintCommandUsage(const CommandSpec& command, absl::Span<const FlagSpec> global_flags,
                       std::ostream& out) {
  out << "usage: tessera " << GlobalSynopsis(global_flags) << command.name;
  for (const FlagSpec& flag : command.flags) {
    out << (flag.required ? " " : " [") << FlagSynopsis(flag) << (flag.required ? "" : "]");
  }
  if (!command.arguments.empty()) out << " " << command.arguments;
  out << "\n\n" << command.summary << "\n";
  if (!command.flags.empty()) {
    out << "\nflags:\n";
    PrintFlagTable(command.flags, out);
  }
  out << "\nglobal flags:\n";
  PrintFlagTable(global_flags, out);
}

}  // namespace tessera::cli
