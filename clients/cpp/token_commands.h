// tokenize and detokenize: the model's tokenizer, as the server runs it.
#pragma once

#include <vector>

#include "clients/cpp/command_line.h"

namespace tessera::cli {

std::vector<CommandSpec> TokenCommands();

}  // namespace tessera::cli
