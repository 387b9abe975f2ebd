#include "server/sequence_canceller.h"

#include <utility>

namespace tessera::server {

RequestRegistry::CancelFunction SequenceCanceller(ModelHandle model,
                                                  std::weak_ptr<Sequence> sequence) {
  return [model = std::move(model), sequence = std::move(sequence)] {
    if (std::shared_ptr<Sequence> running = sequence.lock()) model.engine().Cancel(*running);
  };
}

}  // namespace tessera::server
