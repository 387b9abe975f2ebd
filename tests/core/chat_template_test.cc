// Chat templates against Jinja2 itself: tests/data/chat_templates/expected.json holds each
// case (a model's template or a small language template, the conversation and variables) and
// what Jinja2, configured as transformers configures it, rendered or refused. See
// make_expected.py there.
#include "core/tokenizer/chat_template.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

const std::string kDataDir = std::string(TESSERA_TEST_DATA_DIR) + "/chat_templates/";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

const Json& Expected() {
  static const Json* expected = [] {
    const std::string text = ReadFile(kDataDir + "expected.json");
    return new Json(text.empty() ? Json::object() : Json::parse(text));
  }();
  return *expected;
}

const Json& Cases() {
  static const Json empty = Json::array();
  return Expected().contains("cases") ? Expected()["cases"] : empty;
}

// The time make_expected.py gave strftime_now(), a local civil time.
absl::Time ReferenceNow() {
  absl::CivilSecond civil;
  EXPECT_TRUE(absl::ParseCivilTime(Expected()["now"].get<std::string>(), &civil));
  return absl::FromCivil(civil, absl::LocalTimeZone());
}

ChatTemplateInputs InputsOf(const Json& test_case) {
  ChatTemplateInputs inputs;
  for (const Json& message : test_case["messages"]) {
    ChatMessage chat_message{message["role"].get<std::string>(),
                             message["content"].get<std::string>(), std::nullopt};
    if (message.contains("tool_calls")) chat_message.tool_calls = message["tool_calls"];
    inputs.messages.push_back(std::move(chat_message));
  }
  inputs.add_generation_prompt = test_case["add_generation_prompt"].get<bool>();
  inputs.bos_token = test_case["bos_token"].get<std::string>();
  inputs.eos_token = test_case["eos_token"].get<std::string>();
  inputs.extra_variables = test_case["extra_variables"];
  inputs.now = ReferenceNow();
  return inputs;
}

std::string SourceOf(const Json& test_case) {
  if (test_case.contains("source")) return test_case["source"].get<std::string>();
  const std::string file = Expected()["templates"][test_case["template"].get<std::string>()];
  return ReadFile(kDataDir + file);
}

absl::StatusOr<std::string> RenderCase(const Json& test_case) {
  absl::StatusOr<ChatTemplate> chat_template = ChatTemplate::Parse(SourceOf(test_case));
  if (!chat_template.ok()) return chat_template.status();
  return chat_template->Render(InputsOf(test_case));
}

TEST(ChatTemplateReferenceTest, ExpectedOutputsArePresent) {
  ASSERT_GE(Cases().size(), 150u) << "missing or short " << kDataDir << "expected.json";
  for (const Json& template_file : Expected()["templates"]) {
    EXPECT_FALSE(ReadFile(kDataDir + template_file.get<std::string>()).empty()) << template_file;
  }
}

class ChatTemplateCaseTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ChatTemplateCaseTest, MatchesJinja2) {
  const Json& test_case = Cases()[GetParam()];
  const absl::StatusOr<std::string> rendered = RenderCase(test_case);
  if (test_case.contains("expected")) {
    ASSERT_TRUE(rendered.ok()) << rendered.status();
    EXPECT_EQ(*rendered, test_case["expected"].get<std::string>());
    return;
  }
  ASSERT_FALSE(rendered.ok()) << "rendered instead of failing:\n" << *rendered;
  EXPECT_EQ(rendered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(rendered.status()), "INVALID_ARGUMENT");
  std::string error = test_case["error"].get<std::string>();
  // Jinja2's own errors come with the template line its traceback names.
  if (test_case.contains("error_line") && !test_case["error_line"].is_null()) {
    error = absl::StrCat("line ", test_case["error_line"].get<int>(), ": ", error);
  }
  EXPECT_THAT(std::string(rendered.status().message()), HasSubstr(error));
}

INSTANTIATE_TEST_SUITE_P(Jinja2Reference, ChatTemplateCaseTest,
                         ::testing::Range<size_t>(0, Cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return Cases()[info.param]["name"].get<std::string>();
                         });

TEST(ChatTemplateTest, OutlivesItsSource) {
  absl::StatusOr<ChatTemplate> chat_template = ChatTemplate::Parse(
      std::string("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}"));
  ASSERT_TRUE(chat_template.ok()) << chat_template.status();
  const ChatTemplate copy = *chat_template;
  ChatTemplateInputs inputs;
  inputs.messages = {{"user", "hi", std::nullopt}, {"assistant", "hello", std::nullopt}};
  EXPECT_EQ(*copy.Render(inputs), "user:hi;assistant:hello;");
}

TEST(ChatTemplateTest, StrftimeNowDefaultsToTheCurrentTime) {
  absl::StatusOr<ChatTemplate> chat_template =
      ChatTemplate::Parse("{{ strftime_now('%Y-%m-%d') }}");
  ASSERT_TRUE(chat_template.ok()) << chat_template.status();
  const absl::Time before = absl::Now();
  const absl::StatusOr<std::string> rendered = chat_template->Render({});
  const absl::Time after = absl::Now();
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  // Either side of the render, in case it straddled midnight.
  EXPECT_THAT(
      (std::vector<std::string>{absl::FormatTime("%Y-%m-%d", before, absl::LocalTimeZone()),
                                absl::FormatTime("%Y-%m-%d", after, absl::LocalTimeZone())}),
      ::testing::Contains(*rendered));
}

TEST(ChatTemplateTest, RefusesNestingDeepEnoughToExhaustTheStack) {
  const std::string nested = std::string(5000, '(') + "1" + std::string(5000, ')');
  const absl::StatusOr<ChatTemplate> chat_template = ChatTemplate::Parse("{{ " + nested + " }}");
  EXPECT_EQ(chat_template.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(chat_template.status().message()), HasSubstr("nested too deeply"));
}

TEST(ChatTemplateTest, ExtraVariablesMustBeAnObject) {
  absl::StatusOr<ChatTemplate> chat_template = ChatTemplate::Parse("x");
  ASSERT_TRUE(chat_template.ok()) << chat_template.status();
  ChatTemplateInputs inputs;
  inputs.extra_variables = Json::array({1, 2});
  const absl::StatusOr<std::string> rendered = chat_template->Render(inputs);
  EXPECT_EQ(rendered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(rendered.status()), "extra_variables");
}

}  // namespace
}  // namespace tessera
