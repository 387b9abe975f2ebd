#include "core/tokenizer/chat_template.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/builtins.h"
#include "core/tokenizer/jinja/value_json.h"
#include "core/util/error_reason.h"

namespace tessera {
namespace {

absl::Status ChatTemplateError(const absl::Status& status) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat("chat template: ", status.message())),
                    reason::kInvalidArgument);
}

jinja::Value MessageValue(const ChatMessage& message) {
  jinja::ValueDict entries = {
      {"role", jinja::Value::String(message.role)},
      {"content", jinja::Value::String(message.content)},
  };
  if (message.tool_calls) {
    entries.emplace_back("tool_calls", jinja::ValueFromJson(*message.tool_calls));
  }
  return jinja::Value::Dict(std::move(entries));
}

// A variable of the render context, replacing an earlier one of the same name.
void SetVariable(jinja::ValueDict& context, std::string name, jinja::Value value) {
  for (auto& [existing, existing_value] : context) {
    if (existing == name) {
      existing_value = std::move(value);
      return;
    }
  }
  context.emplace_back(std::move(name), std::move(value));
}

}  // namespace

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  absl::StatusOr<jinja::Template> parsed =
      jinja::Template::Parse(absl::string_view(source.data(), source.size()));
  if (!parsed.ok()) return ChatTemplateError(parsed.status());
  return ChatTemplate(*std::move(parsed));
}

absl::StatusOr<std::string> ChatTemplate::Render(const ChatTemplateInputs& inputs) const {
  if (!inputs.extra_variables.is_object()) {
    return InvalidField("extra_variables", "must be a JSON object");
  }
  jinja::ValueList messages;
  for (const ChatMessage& message : inputs.messages) messages.push_back(MessageValue(message));
  // What apply_chat_template passes: the conversation, tools and documents (None unless
  // given), the generation flag, the special tokens, then the caller's keyword arguments.
  jinja::ValueDict context = jinja::BuiltinGlobals(inputs.now.value_or(absl::Now()));
  SetVariable(context, "messages", jinja::Value::List(std::move(messages)));
  SetVariable(context, "tools", jinja::Value::None());
  SetVariable(context, "documents", jinja::Value::None());
  SetVariable(context, "add_generation_prompt", jinja::Value::Bool(inputs.add_generation_prompt));
  SetVariable(context, "bos_token", jinja::Value::String(inputs.bos_token));
  SetVariable(context, "eos_token", jinja::Value::String(inputs.eos_token));
  for (const auto& [name, value] : inputs.extra_variables.items()) {
    SetVariable(context, name, jinja::ValueFromJson(value));
  }
  absl::StatusOr<std::string> text = template_.Render(context);
  if (!text.ok()) return ChatTemplateError(text.status());
  return text;
}

}  // namespace tessera
