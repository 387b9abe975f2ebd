// The command line's grammar: `tessera [GLOBAL FLAGS] COMMAND [FLAGS] [ARGUMENTS]`. Each command
// declares its flags and how many positional arguments it takes; usage text is made from the
// same declarations, so the two cannot drift apart.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tessera::cli {

struct CommandContext;

struct FlagSpec {
  // Written `--name`.
  absl::string_view name = {};
  // Placeholder for the value in usage text, e.g. "N"; empty for a switch that takes no value.
  absl::string_view value = {};
  absl::string_view help = {};
  bool required = false;
};

struct CommandSpec {
  absl::string_view name = {};
  // Positional arguments as shown in usage text, e.g. "NAME PATH".
  absl::string_view arguments = {};
  absl::string_view summary = {};
  int min_arguments = 0;
  // -1: no upper bound.
  int max_arguments = 0;
  std::vector<FlagSpec> flags = {};
  // Returns the process exit status.
  int (*run)(const CommandContext& context) = nullptr;
};

struct ParsedArgs {
  const CommandSpec* command = nullptr;
  std::vector<std::string> arguments;
  // Flag name -> every value given for it, in order; a switch records an empty value.
  std::map<std::string, std::vector<std::string>, std::less<>> flags;
  // --help or -h was given after the command.
  bool help = false;

  bool Has(absl::string_view name) const { return flags.contains(name); }
  // The last value given for the flag.
  std::optional<std::string> Last(absl::string_view name) const;
  // Every value given for a repeatable flag.
  std::vector<std::string> All(absl::string_view name) const;
  // The last value of the flag read as a number; InvalidArgument when it is not one.
  template <typename T>
  absl::StatusOr<std::optional<T>> Number(absl::string_view name) const;
};

// Splits `args` (argv without the program name) into `parsed`. `global_flags` may appear before
// or after the command; a flag takes its value as `--name value` or `--name=value`; `--` ends the
// flags. On error `parsed->command` is still set once the command is known, to point at its usage.
absl::Status ParseCommandLine(absl::Span<const std::string> args,
                              absl::Span<const FlagSpec> global_flags,
                              absl::Span<const CommandSpec> commands, ParsedArgs* parsed);

template <typename T>
absl::StatusOr<std::optional<T>> ParsedArgs::Number(absl::string_view name) const {
  const std::optional<std::string> text = Last(name);
  if (!text.has_value()) return std::nullopt;
  T value{};
  bool parsed = false;
  if constexpr (std::is_same_v<T, float>) {
    parsed = absl::SimpleAtof(*text, &value);
  } else if constexpr (std::is_same_v<T, double>) {
    parsed = absl::SimpleAtod(*text, &value);
  } else {
    parsed = absl::SimpleAtoi(*text, &value);
  }
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": not a valid number: '", *text, "'"));
  }
  return value;
}

}  // namespace tessera::cli
