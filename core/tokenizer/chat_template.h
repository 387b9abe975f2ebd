// Chat templates: turning a conversation into prompt text exactly as Hugging Face
// transformers' apply_chat_template does, by rendering the model's Jinja2 template with the
// subset of Jinja2 that real chat templates use (core/tokenizer/jinja/).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/tokenizer/jinja/template.h"
#include "nlohmann/json.hpp"

namespace tessera {

struct ChatMessage {
  std::string role;
  std::string content;
  // An assistant message's tool calls, OpenAI style:
  // [{"type": "function", "function": {"name": "...", "arguments": {...}}}].
  // When absent, the template's message has no `tool_calls` key.
  std::optional<nlohmann::ordered_json> tool_calls;
};

struct ChatTemplateInputs {
  std::vector<ChatMessage> messages;
  // End with the header that starts the assistant's reply.
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  // Further template variables, as keyword arguments to apply_chat_template, e.g.
  // {"enable_thinking": false}, {"date_string": "26 Jul 2024"}, {"tools": [...]}.
  // Must be an object.
  nlohmann::ordered_json extra_variables = nlohmann::ordered_json::object();
  // The time strftime_now() reports; the current time when unset.
  std::optional<absl::Time> now;
};

class ChatTemplate {
 public:
  // Errors: INVALID_ARGUMENT (reason INVALID_ARGUMENT) naming the line, for a syntax error or
  // a construct outside the supported subset.
  static absl::StatusOr<ChatTemplate> Parse(std::string_view source);

  // The prompt text. Errors: INVALID_ARGUMENT (reason INVALID_ARGUMENT) for what the template
  // refuses (its raise_exception() message) or a failed evaluation, naming the line.
  absl::StatusOr<std::string> Render(const ChatTemplateInputs& inputs) const;

 private:
  explicit ChatTemplate(jinja::Template parsed) : template_(std::move(parsed)) {}

  jinja::Template template_;
};

}  // namespace tessera
