// ModelRegistry: the loaded models by name. Loading one model never blocks requests to others
// (the load runs outside the lock while the name stays reserved). Requests hold a ModelHandle
// for as long as they use a model; Unload removes the name at once and destroys the engine only
// after the last handle is gone.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/engine.h"

namespace tessera::server {

class ModelEntry;

// A reference-counted claim on a loaded model, meant to be short-lived: held for one request or
// one session. While any handle exists, the engine stays alive and Unload waits.
class ModelHandle {
 public:
  ModelHandle(const ModelHandle& other);
  ModelHandle& operator=(const ModelHandle& other);
  ModelHandle(ModelHandle&& other) noexcept = default;
  ModelHandle& operator=(ModelHandle&& other) noexcept;
  ~ModelHandle();

  const std::string& name() const;
  Engine& engine() const;
  // True once Unload removed the name: holders should not start anything long-lived on it.
  bool unloading() const;

 private:
  friend class ModelRegistry;
  explicit ModelHandle(std::shared_ptr<ModelEntry> entry);
  void Release();

  std::shared_ptr<ModelEntry> entry_;
};

// Told when a model starts or stops serving (used for per-model health status). Called with the
// registry's lock held, so calls arrive in order; it must not call back into the registry.
using ModelServingCallback = std::function<void(const std::string& name, bool serving)>;

class ModelRegistry {
 public:
  ModelRegistry() = default;
  // Unloads every model, waiting for their handles; the serving callback is not told.
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // INVALID_ARGUMENT (field "name") unless the name has 1-128 characters from [A-Za-z0-9._-].
  static absl::Status ValidateName(const std::string& name);

  // Loads a model under `name`. ALREADY_EXISTS (MODEL_ALREADY_LOADED) if the name is loaded or
  // being loaded; otherwise the errors of Engine::Load.
  absl::StatusOr<ModelHandle> Load(const std::string& name, const EngineOptions& options,
                                   const LoadProgressCallback& progress);

  // NOT_FOUND (MODEL_NOT_FOUND) unless `name` is loaded.
  absl::StatusOr<ModelHandle> Get(const std::string& name) const;

  // Every loaded model, ordered by name.
  std::vector<ModelHandle> List() const;

  // Removes `name` at once, calls `release_held` so the caller can drop handles it keeps (e.g.
  // sessions), then waits for the remaining handles and destroys the engine.
  // NOT_FOUND (MODEL_NOT_FOUND) unless `name` is loaded.
  absl::Status Unload(const std::string& name, const std::function<void()>& release_held = {});

  // Sets the callback (nullptr: none) and tells it about every model already loaded, in one step
  // with respect to loads and unloads, so it never misses or reorders a change.
  void SetServingCallback(ModelServingCallback on_serving_change);

 private:
  // Waits for `entry`'s handles, then destroys its engine.
  static void Drain(ModelEntry& entry);

  mutable absl::Mutex mutex_;
  ModelServingCallback on_serving_change_ ABSL_GUARDED_BY(mutex_);
  // A name maps to an entry without an engine while it loads.
  absl::flat_hash_map<std::string, std::shared_ptr<ModelEntry>> models_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace tessera::server
