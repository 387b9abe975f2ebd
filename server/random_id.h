// Identifiers the server hands out (session ids, request ids): 128 random bits as 32 hex digits,
// so they cannot be guessed from one another.
#pragma once

#include <string>

namespace tessera::server {

std::string RandomId();

}  // namespace tessera::server
