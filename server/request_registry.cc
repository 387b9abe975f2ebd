#include "server/request_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "server/random_id.h"

namespace tessera::server {

RequestRegistry::Registration::Registration(RequestRegistry* registry, std::string id)
    : registry_(registry), id_(std::move(id)) {}

RequestRegistry::Registration::Registration(Registration&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(std::move(other.id_)) {}

RequestRegistry::Registration& RequestRegistry::Registration::operator=(
    Registration&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::move(other.id_);
  }
  return *this;
}

RequestRegistry::Registration::~Registration() { Reset(); }

void RequestRegistry::Registration::Reset() {
  if (registry_ != nullptr) std::exchange(registry_, nullptr)->Unregister(id_);
}

absl::StatusOr<RequestRegistry::Registration> RequestRegistry::Register(std::string id,
                                                                       CancelFunction cancel) {
  absl::MutexLock lock(&mutex_);
  if (id.empty()) {
    // 128 random bits: a collision with a running id is not a practical concern.
    id = RandomId();
  } else if (running_.contains(id)) {
    return WithReason(
        absl::AlreadyExistsError(absl::StrCat("request id \"", id, "\" is already running")),
        reason::kDuplicateRequestId);
  }
  running_.emplace(id, std::move(cancel));
  return Registration(this, std::move(id));
}

absl::Status RequestRegistry::Cancel(const std::string& id) {
  CancelFunction cancel;
  {
    absl::MutexLock lock(&mutex_);
    auto it = running_.find(id);
    if (it == running_.end()) {
      return WithReason(
          absl::NotFoundError(absl::StrCat("no running request has id \"", id, "\"")),
          reason::kRequestNotFound);
    }
    // A copy, so the request may unregister while it runs.
    cancel = it->second;
  }
  cancel();
  return absl::OkStatus();
}

void RequestRegistry::Unregister(const std::string& id) {
  absl::MutexLock lock(&mutex_);
  running_.erase(id);
}

}  // namespace tessera::server
