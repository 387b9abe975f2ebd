// generate: stream a completion to stdout; Ctrl-C cancels it on the server.
#pragma once

#include <vector>

#include "clients/cpp/command_line.h"

namespace tessera::cli {

std::vector<CommandSpec> GenerateCommands();

}  // namespace tessera::cli
