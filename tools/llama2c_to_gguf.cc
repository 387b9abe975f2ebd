// Converts a llama2.c checkpoint and its tokenizer into a GGUF model that Tessera (and llama.cpp)
// can serve:
//   llama2c_to_gguf CHECKPOINT.bin TOKENIZER.bin OUT.gguf
#include <iostream>
#include <string>

#include "core/format/llama2c_to_gguf.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " CHECKPOINT.bin TOKENIZER.bin OUT.gguf\n";
    return 2;
  }
  const absl::Status status = tessera::llama2c::ConvertToGguf(argv[1], argv[2], argv[3]);
  if (!status.ok()) {
    std::cerr << "llama2c_to_gguf: " << std::string(status.message()) << "\n";
    return 1;
  }
  return 0;
}
