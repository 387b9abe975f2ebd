// A chat model for tests: the default model (which has no chat template) written again with a
// tokenizer.chat_template added.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/util/status_macros.h"

namespace tessera::testing {

// Llama 2 style: each user turn opens with BOS, each reply closes with EOS.
inline constexpr char kLlama2StyleChatTemplate[] =
    "{% for m in messages %}{% if m.role == 'user' %}{{ bos_token }}[INST] {{ m.content }} "
    "[/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}";

// Writes every metadata entry and tensor of stories260K.gguf, plus `chat_template`, to `path`.
inline absl::Status WriteStoriesWithChatTemplate(std::string_view chat_template,
                                                 const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> original,
                           gguf::GgufFile::Open(TESSERA_MODELS_DIR "/stories260K.gguf"));
  gguf::GgufWriter writer;
  for (const auto& [key, value] : original->metadata()) {
    if (key == "general.alignment") continue;  // the writer lays out data at its own alignment
    writer.AddValue(key, value);
  }
  writer.AddString("tokenizer.chat_template", chat_template);
  for (const gguf::TensorInfo& tensor : original->tensors()) {
    // The file lists dimensions innermost first; the writer takes them outermost first.
    std::vector<int64_t> shape(tensor.dims.rbegin(), tensor.dims.rend());
    TESSERA_RETURN_IF_ERROR(writer.AddTensor(
        tensor.name, tensor.type, shape,
        std::string_view(static_cast<const char*>(tensor.data), tensor.bytes)));
  }
  return writer.WriteFile(path);
}

}  // namespace tessera::testing
