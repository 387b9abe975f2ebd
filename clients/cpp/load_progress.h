// Shows LoadModel progress: rewritten in place on a terminal, one line per stage on a file or
// pipe (where in-place updates would only clutter a log).
#pragma once

#include <ostream>

#include "tessera/inference/v1/inference.pb.h"

namespace tessera::cli {

class LoadProgressPrinter {
 public:
  LoadProgressPrinter(std::ostream& out, bool rewrite_in_place);

  void Show(const inference::v1::LoadProgress& progress);
  // Ends the line being rewritten, if any; call once the stream is over.
  void Finish();

 private:
  std::ostream& out_;
  const bool rewrite_in_place_;
  inference::v1::LoadStage shown_stage_ = inference::v1::LOAD_STAGE_UNSPECIFIED;
  bool line_open_ = false;
};

}  // namespace tessera::cli
