// Usage text, made from the same FlagSpec and CommandSpec tables the parser reads.
#pragma once

#include <ostream>

#include "absl/types/span.h"
#include "clients/cpp/command_line.h"

namespace tessera::cli {

// The synopsis and one line per command.
void PrintUsage(absl::Span<const CommandSpec> commands, absl::Span<const FlagSpec> global_flags,
                std::ostream& out);

// One command's synopsis, summary and flags.
void PrintCommandUsage(const CommandSpec& command, absl::Span<const FlagSpec> global_flags,
                       std::ostream& out);

}  // namespace tessera::cli
