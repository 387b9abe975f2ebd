// SessionTable: sessions (a sequence whose KV cache stays on the server between Decode calls)
// by random, unguessable id. A session is busy while leased to one Decode; idle sessions expire
// after the idle timeout and are released by a sweeper thread (and lazily when looked up).
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/engine/sequence.h"
#include "server/model_registry.h"

namespace tessera::server {

class Session {
 public:
  Session(ModelHandle model, std::shared_ptr<Sequence> sequence, std::string request_id,
          bool with_logprobs);

  const ModelHandle& model() const { return model_; }
  const std::shared_ptr<Sequence>& sequence() const { return sequence_; }
  // The id given at Prefill; Decode runs under it so Cancel can reach them.
  const std::string& request_id() const { return request_id_; }
  // Whether Prefill's sampling parameters asked for logprobs.
  bool with_logprobs() const { return with_logprobs_; }

 private:
  friend class SessionTable;
  // Declared first so it is released last: the sequence's KV cache belongs to the engine.
  const ModelHandle model_;
  const std::shared_ptr<Sequence> sequence_;
  const std::string request_id_;
  const bool with_logprobs_;

  absl::Mutex mutex_;
  bool busy_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Time last_used_ ABSL_GUARDED_BY(mutex_);
};

class SessionTable {
 public:
  // A session checked out for one Decode: busy while the lease lives, idle from its end. It
  // keeps the session alive even if the session is released or expires meanwhile.
  class Lease {
   public:
    explicit Lease(std::shared_ptr<Session> session);
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept = default;
    ~Lease();

    Session& session() const { return *session_; }

   private:
    std::shared_ptr<Session> session_;
  };

  explicit SessionTable(absl::Duration idle_timeout);
  // Stops the sweeper and releases every session.
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // Stores a new session and returns its id. NOT_FOUND (MODEL_NOT_FOUND) if the model is being
  // unloaded: ReleaseAllForModel may already have run for it.
  absl::StatusOr<std::string> Add(ModelHandle model, std::shared_ptr<Sequence> sequence,
                                  std::string request_id, bool with_logprobs);

  // NOT_FOUND (SESSION_NOT_FOUND) for an unknown or expired id; FAILED_PRECONDITION
  // (SESSION_BUSY) while another lease holds it.
  absl::StatusOr<Lease> Acquire(const std::string& id);

  // NOT_FOUND (SESSION_NOT_FOUND) for an unknown or expired id.
  absl::Status Release(const std::string& id);

  // Releases every session on the model named `name`.
  void ReleaseAllForModel(const std::string& name);

  size_t size() const;

 private:
  // Whether `session` sat idle past the timeout. Needs session.mutex_ held.
  bool IdleTooLong(const Session& session, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mutex_);
  // Removes the sessions idle too long and hands them back for the caller to free.
  std::vector<std::shared_ptr<Session>> TakeExpired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void SweepLoop();

  const absl::Duration idle_timeout_;
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread sweeper_;
};

}  // namespace tessera::server
