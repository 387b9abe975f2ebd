#include "clients/cpp/load_progress.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "clients/cpp/model_info_output.h"

namespace tessera::cli {
namespace {

using inference::v1::LoadProgress;

// LOAD_STAGE_READING_WEIGHTS -> "reading weights".
std::string StageName(inference::v1::LoadStage stage) {
  std::string name(absl::StripPrefix(inference::v1::LoadStage_Name(stage), "LOAD_STAGE_"));
  absl::AsciiStrToLower(&name);
  return absl::StrReplaceAll(name, {{"_", " "}});
}

std::string Describe(const LoadProgress& progress) {
  std::string line = absl::StrCat("loading: ", StageName(progress.stage()));
  if (progress.bytes_total() > 0) {
    absl::StrAppend(&line, absl::StrFormat(" %s / %s (%d%%)", HumanBytes(progress.bytes_read()),
                                           HumanBytes(progress.bytes_total()),
                                           100 * progress.bytes_read() / progress.bytes_total()));
  }
  return line;
}

}  // namespace

LoadProgressPrinter::LoadProgressPrinter(std::ostream& out, bool rewrite_in_place)
    : out_(out), rewrite_in_place_(rewrite_in_place) {}

void LoadProgressPrinter::Show(const LoadProgress& progress) {
  if (rewrite_in_place_) {
    // "\x1b[K" clears what a longer previous line left behind.
    out_ << "\r" << Describe(progress) << "\x1b[K" << std::flush;
    line_open_ = true;
  } else if (progress.stage() != shown_stage_) {
    out_ << Describe(progress) << "\n";
  }
  shown_stage_ = progress.stage();
}

void LoadProgressPrinter::Finish() {
  if (line_open_) out_ << "\n";
  line_open_ = false;
}

}  // namespace tessera::cli
