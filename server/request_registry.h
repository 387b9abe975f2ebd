// RequestRegistry: the running generations by request id, so Cancel can reach one from any
// connection. Each request registers how to cancel it; that callback should hold its sequence
// weakly, so a registered request never keeps a finished sequence alive.
#pragma once

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tessera::server {

class RequestRegistry {
 public:
  // Keeps an id registered while it lives; move-only. The registry must outlive it.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    ~Registration();

    const std::string& id() const { return id_; }
    // Unregisters now (the request stopped running); idempotent.
    void Reset();

   private:
    friend class RequestRegistry;
    Registration(RequestRegistry* registry, std::string id);

    RequestRegistry* registry_ = nullptr;
    std::string id_;
  };

  // Stops the request; called without the registry's lock, possibly after it finished.
  using CancelFunction = std::function<void()>;

  // Registers a running request under `id`, or under a fresh random id when `id` is empty.
  // ALREADY_EXISTS (DUPLICATE_REQUEST_ID) if a running request has `id`.
  absl::StatusOr<Registration> Register(std::string id, CancelFunction cancel);

  // Calls the cancel function of the request running under `id`.
  // NOT_FOUND (REQUEST_NOT_FOUND) unless a running request has `id`.
  absl::Status Cancel(const std::string& id);

 private:
  void Unregister(const std::string& id);

  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, CancelFunction> running_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace tessera::server
