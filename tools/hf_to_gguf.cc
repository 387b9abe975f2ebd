// Converts a Hugging Face model directory (config.json, safetensors, and the tokenizer, chat
// template and end-of-sequence ids when present) into a GGUF model that Tessera (and llama.cpp)
// can serve:
//   hf_to_gguf MODEL_DIRECTORY OUT.gguf
#include <iostream>
#include <string>

#include "core/models/hf_directory.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIRECTORY OUT.gguf\n";
    return 2;
  }
  const absl::Status status = tessera::ConvertHfDirectoryToGguf(argv[1], argv[2]);
  if (!status.ok()) {
    std::cerr << "hf_to_gguf: " << std::string(status.message()) << "\n";
    return 1;
  }
  return 0;
}
