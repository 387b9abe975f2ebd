// Converts a Hugging Face tokenizer.json (and the tokenizer_config.json beside it, for BOS, EOS
// and add_bos) into a vocabulary-only GGUF file that Tessera (and llama.cpp) can read:
//   hf_tokenizer_to_gguf TOKENIZER.json OUT.gguf
#include <iostream>
#include <string>

#include "core/tokenizer/hf_tokenizer_to_gguf.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " TOKENIZER.json OUT.gguf\n";
    return 2;
  }
  const absl::Status status = tessera::ConvertHfTokenizerToGguf(argv[1], argv[2]);
  if (!status.ok()) {
    std::cerr << "hf_tokenizer_to_gguf: " << std::string(status.message()) << "\n";
    return 1;
  }
  return 0;
}
