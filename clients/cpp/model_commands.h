// load, unload and list: managing the models a server holds.
#pragma once

#include <vector>

#include "clients/cpp/command_line.h"

namespace tessera::cli {

std::vector<CommandSpec> ModelCommands();

}  // namespace tessera::cli
