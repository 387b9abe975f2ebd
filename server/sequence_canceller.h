// The cancel function a running sequence registers for the Cancel RPC.
#pragma once

#include <memory>

#include "core/engine/sequence.h"
#include "server/model_registry.h"
#include "server/request_registry.h"

namespace tessera::server {

// Cancels through the engine, so a run waiting on flow control still wakes and finishes. Holds
// the sequence weakly, and the model for as long as the request stays registered.
RequestRegistry::CancelFunction SequenceCanceller(ModelHandle model,
                                                  std::weak_ptr<Sequence> sequence);

}  // namespace tessera::server
