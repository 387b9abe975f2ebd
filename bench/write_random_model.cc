// Writes a random-weight model of a real shape (bench/random_model.h) to a .gguf file that a
// server can load, with a filler vocabulary: the model to point tessera-load at on a GPU machine,
// where no real checkpoint of that size is at hand.
//
//   write-random-model --shape llama-3-8b|qwen2.5-0.5b|... [--layers K] --out PATH
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "bench/random_model.h"

ABSL_FLAG(std::string, shape, "", "Required. The model shape, e.g. llama-3-8b.");
ABSL_FLAG(int, layers, 0, "Keep only the first K layers; 0: all of them.");
ABSL_FLAG(std::string, out, "", "Required. Where to write the .gguf file.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "writes a random-weight model of a real shape as a servable .gguf file.\n"
      "  write-random-model --shape NAME [--layers K] --out PATH");
  absl::ParseCommandLine(argc, argv);
  const tessera::bench::ModelShape* shape =
      tessera::bench::FindModelShape(absl::GetFlag(FLAGS_shape));
  const std::string out = absl::GetFlag(FLAGS_out);
  if (shape == nullptr || out.empty() || absl::GetFlag(FLAGS_layers) < 0) {
    std::vector<std::string> names;
    for (const tessera::bench::ModelShape& s : tessera::bench::ModelShapes()) {
      names.push_back(s.name);
    }
    std::fprintf(stderr, "write-random-model: give --out and --shape, one of %s\n",
                 absl::StrJoin(names, ", ").c_str());
    return 2;
  }
  const absl::Status status = tessera::bench::WriteServableRandomModel(
      *shape, absl::GetFlag(FLAGS_layers), tessera::bench::kRandomModelSeed, out);
  if (!status.ok()) {
    std::fprintf(stderr, "write-random-model: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
