#include "server/random_id.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace tessera::server {

std::string RandomId() {
  // absl::BitGen is seeded from the OS and is not thread-safe: one per thread.
  thread_local absl::BitGen bits;
  const uint64_t high = absl::Uniform<uint64_t>(bits);
  const uint64_t low = absl::Uniform<uint64_t>(bits);
  return absl::StrFormat("%016x%016x", high, low);
}

}  // namespace tessera::server
