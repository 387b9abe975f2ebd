#include "server/session_table.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "server/random_id.h"

namespace tessera::server {
namespace {

absl::Status SessionNotFound(const std::string& id) {
  return WithReason(absl::NotFoundError(absl::StrCat("session \"", id, "\" not found or expired")),
                    reason::kSessionNotFound);
}

// Often enough that a session outlives its timeout by at most half of it, but not busily.
absl::Duration SweepPeriod(absl::Duration idle_timeout) {
  return std::clamp(idle_timeout / 2, absl::Milliseconds(10), absl::Seconds(30));
}

}  // namespace

Session::Session(ModelHandle model, std::shared_ptr<Sequence> sequence, std::string request_id,
                 bool with_logprobs)
    : model_(std::move(model)),
      sequence_(std::move(sequence)),
      request_id_(std::move(request_id)),
      with_logprobs_(with_logprobs),
      last_used_(absl::Now()) {}

SessionTable::Lease::Lease(std::shared_ptr<Session> session) : session_(std::move(session)) {}

SessionTable::Lease::~Lease() {
  if (session_ == nullptr) return;
  absl::MutexLock lock(&session_->mutex_);
  session_->busy_ = false;
  session_->last_used_ = absl::Now();
}

SessionTable::SessionTable(absl::Duration idle_timeout)
    : idle_timeout_(idle_timeout), sweeper_([this] { SweepLoop(); }) {}

SessionTable::~SessionTable() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  sweeper_.join();
}

absl::StatusOr<std::string> SessionTable::Add(ModelHandle model,
                                              std::shared_ptr<Sequence> sequence,
                                              std::string request_id, bool with_logprobs) {
  std::string id = RandomId();
  const std::string model_name = model.name();
  auto session = std::make_shared<Session>(std::move(model), std::move(sequence),
                                           std::move(request_id), with_logprobs);
  absl::MutexLock lock(&mutex_);
  // Checked under the lock ReleaseAllForModel takes, so no session slips in after it ran.
  if (session->model().unloading()) {
    return WithReason(
        absl::NotFoundError(absl::StrCat("model \"", model_name, "\" is being unloaded")),
        reason::kModelNotFound);
  }
  sessions_.emplace(id, std::move(session));
  return id;
}

absl::StatusOr<SessionTable::Lease> SessionTable::Acquire(const std::string& id) {
  std::shared_ptr<Session> expired;  // destroyed after the lock is released
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return SessionNotFound(id);
  std::shared_ptr<Session> session = it->second;
  absl::MutexLock session_lock(&session->mutex_);
  if (session->busy_) {
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat("session \"", id, "\" is busy")),
        reason::kSessionBusy);
  }
  if (IdleTooLong(*session, absl::Now())) {
    expired = std::move(it->second);
    sessions_.erase(it);
    return SessionNotFound(id);
  }
  session->busy_ = true;
  return Lease(std::move(session));
}

absl::Status SessionTable::Release(const std::string& id) {
  std::shared_ptr<Session> released;
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return SessionNotFound(id);
  released = std::move(it->second);
  sessions_.erase(it);
  return absl::OkStatus();
}

void SessionTable::ReleaseAllForModel(const std::string& name) {
  std::vector<std::shared_ptr<Session>> released;
  absl::MutexLock lock(&mutex_);
  absl::erase_if(sessions_, [&](auto& entry) {
    if (entry.second->model().name() != name) return false;
    released.push_back(std::move(entry.second));
    return true;
  });
}

size_t SessionTable::size() const {
  absl::MutexLock lock(&mutex_);
  return sessions_.size();
}

bool SessionTable::IdleTooLong(const Session& session, absl::Time now) const {
  return !session.busy_ && now - session.last_used_ >= idle_timeout_;
}

std::vector<std::shared_ptr<Session>> SessionTable::TakeExpired() {
  std::vector<std::shared_ptr<Session>> expired;
  const absl::Time now = absl::Now();
  absl::erase_if(sessions_, [&](auto& entry) {
    absl::MutexLock session_lock(&entry.second->mutex_);
    if (!IdleTooLong(*entry.second, now)) return false;
    expired.push_back(std::move(entry.second));
    return true;
  });
  return expired;
}

void SessionTable::SweepLoop() {
  const absl::Duration period = SweepPeriod(idle_timeout_);
  absl::MutexLock lock(&mutex_);
  while (!mutex_.AwaitWithTimeout(absl::Condition(&stopping_), period)) {
    std::vector<std::shared_ptr<Session>> expired = TakeExpired();
    // Freeing KV caches needs no table lock.
    mutex_.Unlock();
    expired.clear();
    mutex_.Lock();
  }
}

}  // namespace tessera::server
