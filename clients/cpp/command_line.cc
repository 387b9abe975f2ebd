#include "clients/cpp/command_line.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "core/util/status_macros.h"

namespace tessera::cli {
namespace {

const FlagSpec* FindFlag(absl::string_view name, absl::Span<const FlagSpec> flags) {
  auto it = std::find_if(flags.begin(), flags.end(),
                         [&](const FlagSpec& flag) { return flag.name == name; });
  return it == flags.end() ? nullptr : &*it;
}

bool IsFlag(absl::string_view arg) { return arg.size() > 2 && absl::StartsWith(arg, "--"); }

// Reads the flag at args[*next] (and its value, when separate) into `parsed`.
absl::Status ParseFlag(absl::Span<const std::string> args, size_t* next,
                       absl::Span<const FlagSpec> global_flags,
                       absl::Span<const FlagSpec> command_flags, ParsedArgs* parsed) {
  absl::string_view arg = args[(*next)++];
  arg.remove_prefix(2);
  const size_t equals = arg.find('=');
  const absl::string_view name = arg.substr(0, equals);
  const FlagSpec* spec = FindFlag(name, command_flags);
  if (spec == nullptr) spec = FindFlag(name, global_flags);
  if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));

  std::string value;
  if (spec->value.empty()) {
    if (equals != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
    }
  } else if (equals != absl::string_view::npos) {
    value = std::string(arg.substr(equals + 1));
  } else if (*next < args.size()) {
    value = args[(*next)++];
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value ", spec->value));
  }
  parsed->flags[std::string(name)].push_back(std::move(value));
  return absl::OkStatus();
}

absl::Status CheckShape(const ParsedArgs& parsed) {
  const CommandSpec& command = *parsed.command;
  const int count = static_cast<int>(parsed.arguments.size());
  const bool too_many = command.max_arguments >= 0 && count > command.max_arguments;
  if (count < command.min_arguments || too_many) {
    return absl::InvalidArgumentError(
        absl::StrCat(command.name, " takes ",
                     command.arguments.empty() ? "no arguments" : command.arguments, ", got ",
                     count, count == 1 ? " argument" : " arguments"));
  }
  for (const FlagSpec& flag : command.flags) {
    if (flag.required && !parsed.Has(flag.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(command.name, " needs --", flag.name, " ", flag.value));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> ParsedArgs::Last(absl::string_view name) const {
  auto it = flags.find(name);
  if (it == flags.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::All(absl::string_view name) const {
  auto it = flags.find(name);
  if (it == flags.end()) return {};
  return it->second;
}

absl::Status ParseCommandLine(absl::Span<const std::string> args,
                              absl::Span<const FlagSpec> global_flags,
                              absl::Span<const CommandSpec> commands, ParsedArgs* parsed) {
  size_t next = 0;
  while (next < args.size() && IsFlag(args[next])) {
    TESSERA_RETURN_IF_ERROR(ParseFlag(args, &next, global_flags, {}, parsed));
  }
  if (next == args.size()) return absl::InvalidArgumentError("no command given");

  const std::string& name = args[next++];
  auto command = std::find_if(commands.begin(), commands.end(),
                              [&](const CommandSpec& spec) { return spec.name == name; });
  if (command == commands.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command '", name, "'"));
  }
  parsed->command = &*command;

  bool flags_ended = false;
  while (next < args.size()) {
    const std::string& arg = args[next];
    if (flags_ended || !(IsFlag(arg) || arg == "--" || arg == "-h")) {
      parsed->arguments.push_back(arg);
      ++next;
    } else if (arg == "--") {
      flags_ended = true;
      ++next;
    } else if (arg == "--help" || arg == "-h") {
      parsed->help = true;
      ++next;
    } else {
      TESSERA_RETURN_IF_ERROR(ParseFlag(args, &next, global_flags, command->flags, parsed));
    }
  }
  if (parsed->help) return absl::OkStatus();
  return CheckShape(*parsed);
}

}  // namespace tessera::cli
