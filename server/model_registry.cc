#include "server/model_registry.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"

namespace tessera::server {

class ModelEntry {
 public:
  explicit ModelEntry(std::string name) : name(std::move(name)) {}

  const std::string name;
  // Set once when the load succeeds (under the registry's lock), reset by Drain.
  std::unique_ptr<Engine> engine;
  std::atomic<bool> unloading{false};

  absl::Mutex mutex;
  int holders ABSL_GUARDED_BY(mutex) = 0;
};

namespace {

constexpr size_t kMaxNameLength = 128;

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

absl::Status ModelNotFound(const std::string& name) {
  return WithReason(absl::NotFoundError(absl::StrCat("model \"", name, "\" is not loaded")),
                    reason::kModelNotFound);
}

}  // namespace

ModelHandle::ModelHandle(std::shared_ptr<ModelEntry> entry) : entry_(std::move(entry)) {
  absl::MutexLock lock(&entry_->mutex);
  ++entry_->holders;
}

ModelHandle::ModelHandle(const ModelHandle& other) : ModelHandle(other.entry_) {}

ModelHandle& ModelHandle::operator=(const ModelHandle& other) {
  if (this != &other) *this = ModelHandle(other);
  return *this;
}

ModelHandle& ModelHandle::operator=(ModelHandle&& other) noexcept {
  if (this != &other) {
    Release();
    entry_ = std::move(other.entry_);
  }
  return *this;
}

ModelHandle::~ModelHandle() { Release(); }

void ModelHandle::Release() {
  if (entry_ == nullptr) return;
  {
    absl::MutexLock lock(&entry_->mutex);
    --entry_->holders;
  }
  entry_.reset();
}

const std::string& ModelHandle::name() const { return entry_->name; }
Engine& ModelHandle::engine() const { return *entry_->engine; }
bool ModelHandle::unloading() const { return entry_->unloading.load(); }

ModelRegistry::~ModelRegistry() {
  absl::flat_hash_map<std::string, std::shared_ptr<ModelEntry>> models;
  {
    absl::MutexLock lock(&mutex_);
    models.swap(models_);
  }
  for (auto& [name, entry] : models) {
    entry->unloading.store(true);
    Drain(*entry);
  }
}

absl::Status ModelRegistry::ValidateName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return InvalidField("name", absl::StrCat("must have 1 to ", kMaxNameLength,
                                             " characters, got ", name.size()));
  }
  if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
    return InvalidField("name", "may only contain A-Z, a-z, 0-9, '.', '_' and '-'");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelHandle> ModelRegistry::Load(const std::string& name,
                                                const EngineOptions& options,
                                                const LoadProgressCallback& progress) {
  if (absl::Status valid = ValidateName(name); !valid.ok()) return valid;
  auto entry = std::make_shared<ModelEntry>(name);
  {
    absl::MutexLock lock(&mutex_);
    if (!models_.emplace(name, entry).second) {
      return WithReason(
          absl::AlreadyExistsError(absl::StrCat("a model named \"", name, "\" is already loaded")),
          reason::kModelAlreadyLoaded);
    }
  }

  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options, progress);

  absl::MutexLock lock(&mutex_);
  if (engine.ok() && options.cancel_requested != nullptr && options.cancel_requested->load()) {
    // Cancelled after the engine read its weights: the caller is gone, so keep nothing.
    engine = absl::CancelledError(absl::StrCat("loading \"", name, "\" was cancelled"));
  }
  if (!engine.ok()) {
    models_.erase(name);
    return engine.status();
  }
  entry->engine = *std::move(engine);
  if (on_serving_change_) on_serving_change_(name, true);
  return ModelHandle(entry);
}

absl::StatusOr<ModelHandle> ModelRegistry::Get(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  auto it = models_.find(name);
  if (it == models_.end() || it->second->engine == nullptr) return ModelNotFound(name);
  return ModelHandle(it->second);
}

std::vector<ModelHandle> ModelRegistry::List() const {
  std::vector<ModelHandle> handles;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [name, entry] : models_) {
      if (entry->engine != nullptr) handles.push_back(ModelHandle(entry));
    }
  }
  std::sort(handles.begin(), handles.end(),
            [](const ModelHandle& a, const ModelHandle& b) { return a.name() < b.name(); });
  return handles;
}

absl::Status ModelRegistry::Unload(const std::string& name,
                                   const std::function<void()>& release_held) {
  std::shared_ptr<ModelEntry> entry;
  {
    absl::MutexLock lock(&mutex_);
    auto it = models_.find(name);
    if (it == models_.end() || it->second->engine == nullptr) return ModelNotFound(name);
    entry = std::move(it->second);
    models_.erase(it);
    // Set before release_held runs, so whoever stores handles can refuse new ones from now on.
    entry->unloading.store(true);
    if (on_serving_change_) on_serving_change_(name, false);
  }
  if (release_held) release_held();
  Drain(*entry);
  return absl::OkStatus();
}

void ModelRegistry::SetServingCallback(ModelServingCallback on_serving_change) {
  absl::MutexLock lock(&mutex_);
  on_serving_change_ = std::move(on_serving_change);
  if (!on_serving_change_) return;
  for (const auto& [name, entry] : models_) {
    if (entry->engine != nullptr) on_serving_change_(name, true);
  }
}

void ModelRegistry::Drain(ModelEntry& entry) {
  {
    absl::MutexLock lock(&entry.mutex);
    entry.mutex.Await(absl::Condition(
        +[](int* holders) { return *holders == 0; }, &entry.holders));
  }
  entry.engine.reset();
}

}  // namespace tessera::server
