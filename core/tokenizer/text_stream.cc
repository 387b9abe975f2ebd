#include "core/tokenizer/text_stream.h"

#include "core/tokenizer/utf8.h"

namespace tessera {

std::string TextStream::Push(std::string_view bytes) {
  if (at_start_ && !bytes.empty()) {
    at_start_ = false;
    if (strip_leading_space_ && bytes.front() == ' ') bytes.remove_prefix(1);
  }
  pending_.append(bytes);

  std::string text;
  std::string_view rest = pending_;
  while (!rest.empty()) {
    const Utf8Head head = ScanUtf8Head(rest);
    if (head.truncated) break;  // wait for the bytes that may complete it
    text.append(head.well_formed ? rest.substr(0, head.length) : kUtf8Replacement);
    rest.remove_prefix(head.length);
  }
  pending_.erase(0, pending_.size() - rest.size());
  return text;
}

std::string TextStream::Flush() {
  // Pending bytes are always one truncated character, i.e. a single maximal subpart.
  std::string text = pending_.empty() ? "" : std::string(kUtf8Replacement);
  pending_.clear();
  return text;
}

std::string ToValidUtf8(std::string_view bytes) {
  TextStream stream(/*strip_leading_space=*/false);
  std::string text = stream.Push(bytes);
  return text + stream.Flush();
}

}  // namespace tessera
