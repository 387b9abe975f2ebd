// info: what the server is and what it runs on.
#pragma once

#include <vector>

#include "clients/cpp/command_line.h"

namespace tessera::cli {

std::vector<CommandSpec> ServerCommands();

}  // namespace tessera::cli
