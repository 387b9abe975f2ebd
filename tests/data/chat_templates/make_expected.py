#!/usr/bin/python3
"""Writes expected.json: chat-template cases rendered by Jinja2 the way transformers renders them.

Run with Debian's python3-jinja2 (the engine transformers uses):
    /usr/bin/python3 tests/data/chat_templates/make_expected.py

The environment mirrors transformers' `_compile_jinja_template`
(src/transformers/utils/chat_template_utils.py): an ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, the loopcontrols extension and a `{% generation %}` tag; `tojson`
replaced by json.dumps(ensure_ascii=False, ...); `raise_exception` and `strftime_now` as
globals. Render variables mirror `apply_chat_template`: messages, tools (None unless given),
documents (None), add_generation_prompt, the special tokens, then the caller's keyword
arguments. strftime_now reports the fixed time NOW so the output is reproducible.
"""

import datetime
import json
import os
import sys
import traceback

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_HF = os.path.join(HERE, "..", "..", "..", "..", "shared", "testdata", "hf")
NOW = datetime.datetime(2024, 9, 5, 10, 30, 0)


class GenerationTag(jinja2.ext.Extension):
    """transformers' `{% generation %}...{% endgeneration %}`: renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_render_body")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# name -> (file in this directory, bos_token, eos_token); tokens from each tokenizer_config.json.
TEMPLATES = {
    "llama3_1": ("meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|end_of_text|>"),
    "llama3_2": ("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|end_of_text|>"),
    "llama3_config": ("llama3-tokenizer_config.jinja", "<|begin_of_text|>", "<|end_of_text|>"),
    "qwen2_5": ("Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>"),
    "qwen3": ("Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>"),
    "phi3_5": ("microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>"),
    "phi3_config": ("phi3-tokenizer_config.jinja", "<s>", "<|endoftext|>"),
}

# Copies of a tokenizer_config.json's `chat_template`, and where it came from. Qwen3's config
# holds the same template as Qwen-Qwen3-0.6B.jinja.
CONFIG_TEMPLATES = {
    "llama3-tokenizer_config.jinja": "llama3/tokenizer_config.json",
    "phi3-tokenizer_config.jinja": "phi3/tokenizer_config.json",
    "Qwen-Qwen3-0.6B.jinja": "qwen3/tokenizer_config.json",
}


def check_config_copies():
    """The template files match the shared tokenizer configs, when those are present."""
    for file_name, config in CONFIG_TEMPLATES.items():
        path = os.path.join(SHARED_HF, config)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            source = json.load(f)["chat_template"]
        if read_template(file_name) != source:
            sys.exit(f"{file_name} differs from the chat_template in {config}")


def read_template(file_name):
    with open(os.path.join(HERE, file_name), encoding="utf-8", newline="") as f:
        return f.read()


def msg(role, content, **fields):
    return {"role": role, "content": content, **fields}


SYSTEM = msg("system", "You are a helpful assistant.")
CONVERSATIONS = {
    "system_user": [SYSTEM, msg("user", "Hello!")],
    "multi_turn": [
        SYSTEM,
        msg("user", "What is 2+2?"),
        msg("assistant", "2+2 is 4."),
        msg("user", "And 3+3?"),
    ],
    "no_system": [
        msg("user", "Hi there"),
        msg("assistant", "Hello! How can I help?"),
        msg("user", "Tell me a joke."),
    ],
    "ends_with_assistant": [msg("user", "Say hi."), msg("assistant", "Hi!")],
    # Whitespace the templates trim (some of it Unicode), quotes, backslashes, non-ASCII text,
    # and text that looks like template syntax but is data.
    "tricky_content": [
        msg("system", "  Be terse.\n\n"),
        msg("user", "Quote: \"hi\" and 'yo' \\ back\nTabs\there \u2014 "
                    "h\u00e9llo \u4e16\u754c \U0001F642"),
        msg("assistant", "Line one\n\nLine two\n  {{ not a tag }} {% nor this %} {# nor this #}\n"),
        msg("user", "\u3000 ideographic space and nbsp\u00a0"),
    ],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city \u2014 in \u00b0C.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                "units": {"type": "string", "enum": ["metric", "imperial"]},
            },
            "required": ["city"],
        },
    },
}


def tool_call(arguments):
    return {"type": "function", "function": {"name": "get_weather", "arguments": arguments}}


TOOL_CONVERSATION = [
    SYSTEM,
    msg("user", "Weather in Z\u00fcrich?"),
    msg("assistant", "", tool_calls=[tool_call({"city": "Z\u00fcrich", "days": 2, "ok": True,
                                                 "note": None})]),
    msg("tool", "{\"temperature\": 21.5, \"sky\": \"clear\"}"),
    msg("assistant", "It is 21.5 \u00b0C and clear."),
    msg("user", "Thanks"),
]


def chat_case(name, template, messages, add_generation_prompt, **extra_variables):
    _, bos, eos = TEMPLATES[template]
    return {
        "name": name,
        "template": template,
        "messages": messages,
        "add_generation_prompt": add_generation_prompt,
        "bos_token": bos,
        "eos_token": eos,
        "extra_variables": extra_variables,
    }


def chat_cases():
    cases = []
    for template in TEMPLATES:
        for conversation, messages in CONVERSATIONS.items():
            for generation in (True, False):
                suffix = "gen" if generation else "nogen"
                cases.append(chat_case(f"{template}_{conversation}_{suffix}", template, messages,
                                       generation))

    # Qwen3 thinking: the switch, earlier turns' reasoning dropped, the last turn's kept.
    thinking_turns = [
        msg("user", "What is 2+2?"),
        msg("assistant", "<think>\nAdd them.\n</think>\n\n2+2 is 4."),
        msg("user", "And 3+3?"),
        msg("assistant", "<think>\nAgain.\n</think>\n\n3+3 is 6."),
    ]
    for thinking in (True, False):
        cases.append(chat_case(f"qwen3_enable_thinking_{str(thinking).lower()}", "qwen3",
                               CONVERSATIONS["system_user"], True, enable_thinking=thinking))
    cases.append(chat_case("qwen3_reasoning_history_gen", "qwen3", thinking_turns[:3], True))
    cases.append(chat_case("qwen3_reasoning_last_turn", "qwen3", thinking_turns, False))

    # Dates: Llama 3.1 defaults to a fixed one, Llama 3.2 asks strftime_now.
    for template in ("llama3_1", "llama3_2"):
        cases.append(chat_case(f"{template}_date_string", template, CONVERSATIONS["system_user"],
                               True, date_string="01 Jan 2025"))

    # Tools: JSON schemas through tojson (indented for Llama), tool calls and tool results.
    for template in ("llama3_1", "llama3_2", "qwen2_5", "qwen3"):
        cases.append(chat_case(f"{template}_tools", template, TOOL_CONVERSATION, True,
                               tools=[WEATHER_TOOL]))
    for template in ("llama3_1", "llama3_2"):
        cases.append(chat_case(f"{template}_tools_in_system", template, TOOL_CONVERSATION, True,
                               tools=[WEATHER_TOOL], tools_in_user_message=False))
    cases.append(chat_case("llama3_1_builtin_tools", "llama3_1",
                           CONVERSATIONS["system_user"], True,
                           builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"]))
    string_arguments = [
        msg("user", "Weather?"),
        msg("assistant", "Let me check.", tool_calls=[tool_call("{\"city\": \"Oslo\"}")]),
        msg("tool", "rain"),
        msg("tool", "cold"),
    ]
    for template in ("qwen2_5", "qwen3"):
        cases.append(chat_case(f"{template}_string_arguments", template, string_arguments, True))

    # What the templates refuse.
    cases.append(chat_case("llama3_1_tools_without_user_message", "llama3_1", [SYSTEM], True,
                           tools=[WEATHER_TOOL]))
    cases.append(chat_case("llama3_1_two_tool_calls", "llama3_1",
                           [msg("user", "Weather?"),
                            msg("assistant", "", tool_calls=[tool_call({"city": "A"}),
                                                              tool_call({"city": "B"})])],
                           True))
    for template in ("llama3_1", "qwen3"):
        cases.append(chat_case(f"{template}_no_messages", template, [], True))
    return cases


def language_case(name, source, **variables):
    return {
        "name": name,
        "source": source,
        "messages": [],
        "add_generation_prompt": False,
        "bos_token": "",
        "eos_token": "",
        "extra_variables": variables,
    }


DATA = {
    "d": {"b": 2, "a": 1, "C": 3},
    "xs": [3, 1, 2],
    "s": "h\u00e9llo w\u00f6rld",
    "people": [{"name": "Ann", "age": 31, "admin": True}, {"name": "bob", "age": 25},
               {"name": "Cy", "age": 40, "admin": False}],
    "n": None,
}


def language_cases():
    """Small templates exercising the language beyond what the model templates use."""
    sources = {
        # Whitespace control and the environment's trim_blocks / lstrip_blocks.
        "ws_trim_blocks": "{% if true %}\nA\n{% endif %}\nB\n",
        "ws_lstrip_blocks": "  {% if true %}\n    x\n  {% endif %}\nend",
        "ws_lstrip_not_after_text": "a {% if true %}b{% endif %} c",
        "ws_minus_both": "a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}  \n  c",
        "ws_plus_keeps": "  {%+ if true +%}\nx\n  {%+ endif %}\ny",
        "ws_variable_minus": "a \n {{- 'b' -}} \n c {{ 'd' }} \n e",
        "ws_comment": "a\n  {# note #}\nb {#- strip -#}  c\n{# keep newline? +#}\nd",
        "ws_trailing_newline": "one line\n",
        "ws_crlf": "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc",
        # Literals and operators.
        "literal_strings": "{{ 'it''s' }}|{{ \"tab\\there\" }}|{{ '\\u00e9\\x41\\n' }}|"
                           "{{ 'a\\qb' }}",
        "literal_numbers": "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 2.50 }}",
        "arithmetic": "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} "
                      "{{ 2 ** 10 }} {{ - 2 ** 2 }} {{ 1 + 2 * 3 }} {{ 0.1 + 0.2 }}",
        "float_repr": "{{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1 / 3 }} {{ -0.0 }}",
        "concat": "{{ 'a' ~ 1 ~ none ~ true ~ 1.0 ~ undefined_name }}",
        "compare": "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} "
                   "{{ 1 == 1.0 }} {{ true == 1 }} {{ '1' == 1 }} {{ none == none }}",
        "logic": "{{ none or 'x' }} {{ 0 and 'y' }} {{ 'a' and 'b' }} {{ not [] }} "
                 "{{ 1 if false }}|{{ 1 if false else 2 }}",
        "membership": "{{ 'b' in 'abc' }} {{ 2 in xs }} {{ 'a' in d }} {{ 'z' not in d }} "
                      "{{ 'x' in nothing }}",
        "containers": "{{ [1, 'a', none, true, 1.5] }} {{ (1,) }} {{ (1, 2) }} "
                      "{{ {'k': 'v', 'n': [1]} }} {{ \"it's\" }} {{ ['it\\'s'] }}",
        # Access, slicing and undefined values.
        "access": "{{ d.a }} {{ d['b'] }} {{ xs[0] }} {{ xs[-1] }} {{ xs.1 }} {{ s[1] }} "
                  "[{{ xs[10] }}] [{{ d.missing }}] [{{ n.missing }}]",
        "slicing": "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ s[::-1] }} "
                   "{{ s[1:4] }} {{ xs[5:] }} {{ s[-3:] }}",
        "undefined_lenient": "[{{ missing }}] {{ missing is defined }} {{ missing|length }} "
                             "{{ missing|default('dflt') }} {{ missing == missing }} "
                             "{% for x in missing %}x{% else %}empty{% endfor %}",
        "undefined_attribute_error": "{{ missing.attribute }}",
        "undefined_arithmetic_error": "{{ missing + 1 }}",
        "type_error": "{{ 'a' + 1 }}",
        "not_callable_error": "{{ 'a'() }}",
        # Statements.
        "for_loop_variables": "{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/"
                              "{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/"
                              "{{ loop.last }}/{{ loop.length }}/{{ loop.previtem }}/"
                              "{{ loop.nextitem }};{% endfor %}",
        "for_filter_else": "{% for x in xs if x > 1 %}{{ x }}:{{ loop.length }} {% endfor %}"
                           "{% for x in [] %}{% else %}none{% endfor %}",
        "for_unpack_items": "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
                            "{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}",
        "for_dict_and_string": "{% for k in d %}{{ k }}{% endfor %} "
                               "{% for c in 'h\u00e9!' %}[{{ c }}]{% endfor %}",
        "loop_controls": "{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}"
                         "{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}",
        "loop_cycle": "{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}",
        "nested_loops": "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}"
                        "{{ loop.index }} {% endfor %}{% endfor %}",
        "set_scoping": "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}"
                       "{{ x }} {% endfor %}{{ x }}",
        "set_in_if": "{% set x = 'a' %}{% if true %}{% set x = 'b' %}{% endif %}{{ x }}",
        "set_unpack": "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 3, 4 %}{{ t }}",
        "namespace": "{% set ns = namespace(total=0, seen=[]) %}{% for x in xs %}"
                     "{% set ns.total = ns.total + x %}{% endfor %}{{ ns.total }} "
                     "{% set ns.extra = 'new' %}{{ ns.extra }}",
        "if_elif_else": "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two"
                        "{% else %}many{% endif %} {% endfor %}",
        "print_and_generation": "{% print 'p' %}{% generation %}g{% set y = 1 %}"
                                "{% endgeneration %}[{{ y }}]",
        # Tests.
        "tests": "{{ none is none }} {{ 1 is number }} {{ true is number }} {{ true is integer }} "
                 "{{ 1.0 is float }} {{ 's' is string }} {{ d is mapping }} {{ xs is mapping }} "
                 "{{ xs is sequence }} {{ d is sequence }} {{ 1 is iterable }} "
                 "{{ 's' is iterable }} "
                 "{{ missing is iterable }} {{ missing is sequence }} {{ true is true }} "
                 "{{ 0 is false }} {{ false is false }} {{ 3 is divisibleby 3 }} {{ 4 is even }} "
                 "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 2 is in xs }} "
                 "{{ 1 is equalto 1 }} {{ 1 is not equalto 2 }} {{ range is callable }}",
        # Filters.
        "filters_text": "{{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'ab'|upper }}|"
                        "{{ 'AB'|lower }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|"
                        "{{ 'aaa'|replace('a', 'b', 2) }}|{{ 42|string }}|{{ none|string }}|"
                        "{{ '\u3000x\u00a0'|trim }}|{{ 5|trim }}",
        "filters_sequences": "{{ xs|length }} {{ s|length }} {{ d|count }} {{ xs|first }} "
                             "{{ xs|last }} {{ d|first }} {{ 'abc'|last }} {{ xs|join(', ') }} "
                             "{{ xs|join }} {{ d|list }} {{ 'ab'|list }} {{ xs|reverse|list }} "
                             "{{ 'abc'|reverse }} {{ []|first is undefined }}",
        "filters_default": "{{ missing|default('a') }} {{ ''|default('b') }} "
                           "{{ ''|default('c', true) }} {{ none|d('e') }} "
                           "{{ 0|default(1, boolean=true) }}",
        "filters_dicts": "{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(true) }} "
                         "{{ d|dictsort(by='value', reverse=true) }} {{ missing|items|list }}",
        "filters_select": "{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} "
                          "{{ people|selectattr('admin')|map(attribute='name')|join(',') }} "
                          "{{ people|rejectattr('admin')|map(attribute='name')|list }} "
                          "{{ people|selectattr('age', 'gt', 30)|map(attribute='name')|list }} "
                          "{{ ['a', 'b', 'a']|reject('equalto', 'a')|list }} "
                          "{{ xs|map('string')|join('-') }} "
                          "{{ people|map(attribute='missing', default='?')|join }} "
                          "{{ people|join(' ', attribute='name') }}",
        "filters_numbers": "{{ -3|abs }} {{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int(7) }} "
                           "{{ 3.9|int }} {{ '1.5'|float }} {{ 'x'|float }} {{ 2|float }} "
                           "{{ 'ff'|int(base=16) }}",
        "filters_tojson": "{{ d|tojson }}\n{{ people|tojson(indent=2) }}\n"
                          "{{ d|tojson(sort_keys=true) }}\n"
                          "{{ s|tojson }} {{ s|tojson(ensure_ascii=true) }} "
                          "{{ '\\u0001\\t\"\\\\'|tojson }}\n"
                          "{{ [1.5, 1e20, none, true, [], {}]|tojson(indent='\\t') }}\n"
                          "{{ d|tojson(separators=(',', ':')) }} "
                          "{{ 'emoji \U0001F642'|tojson(true) }}",
        "filters_tojson_undefined_error": "{{ missing|tojson }}",
        # String methods.
        "str_methods": "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|"
                       "{{ '\\n\\nx\\n'.lstrip('\\n') }}|"
                       "{{ 'x  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|"
                       "{{ 'a,b,c'.split(',', 1) }}|{{ ' a b c '.split(none, 1) }}|"
                       "{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}|"
                       "{{ 'MiXed'.lower() }}{{ 'MiXed'.upper() }}|{{ 'a-b'.replace('-', '+') }}|"
                       "{{ 'x'.replace('', '.') }}|{{ 'it''s a test'.title() }}|"
                       "{{ 'h\u00e9llo'.upper() }}|"
                       "{{ 'think</think>answer'.split('</think>')[-1] }}",
        "dict_methods": "{{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} "
                        "{{ d.get('zz', 'none') }} {{ d.get('zz') }} {{ d.items()|list }}",
        "globals": "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }} "
                   "{{ dict(a=1, b='x') }} {{ namespace(a=1).a }} "
                   "{{ strftime_now('%Y-%m-%d %H:%M %b %A') }}",
        "raise_exception": "before{{ raise_exception('Custom failure: ' ~ 42) }}",
        # Corners where Jinja2 or Python differ from the obvious.
        "for_else_after_break_or_continue":
            "{% for x in xs %}{% break %}{% else %}e1{% endfor %}|"
            "{% for x in xs %}{% continue %}{% else %}e2{% endfor %}|"
            "{% for x in xs %}{{ x }}{% else %}e3{% endfor %}|"
            "{% for o in [1, 2] %}{% for x in [] %}{% else %}{{ o }}{% break %}{% endfor %}"
            "{% endfor %}",
        "float_floor_division": "{{ 1 // 0.1 }} {{ 1 % 0.1 }} {{ -7.5 // 2 }} {{ 7.5 % -2 }} "
                                "{{ -0.0 % 2 }} {{ 3.0 is odd }} {{ 4.0 is even }}",
        "filters_false_operands": "{{ none|map('upper')|list }} {{ 0|select('odd')|list }} "
                                  "{{ ''|reject|list }} {{ none|selectattr('x')|list }}",
        "tuple_subscript": "[{{ d['a', 'b'] }}] [{{ xs[0, 1] }}]",
        "title_filter_vs_method": "{{ \"they're bill's friends-of (mine)\"|title }} / "
                                  "{{ \"they're bill's\".title() }}",
        "unhashable_membership_error": "{{ [1] in d }}",
        "int_of_undefined_error": "{{ missing|int }}",
        "zero_to_negative_power_error": "{{ 0.0 ** -1 }}",
    }
    return [language_case(f"language_{name}", source, **DATA) for name, source in sources.items()]


# Valid Jinja2 that this implementation deliberately does not support: each must fail with a
# message naming the construct and its line (the error text here is this project's own).
UNSUPPORTED = {
    "macro": ("text\n{% macro greet(name) %}Hi {{ name }}{% endmacro %}{{ greet('a') }}",
              "line 2: unsupported tag 'macro'"),
    "include": ("{% include 'other.jinja' %}", "line 1: unsupported tag 'include'"),
    "extends": ("{% extends 'base.jinja' %}", "line 1: unsupported tag 'extends'"),
    "call_block": ("a\nb\n{% call foo() %}x{% endcall %}", "line 3: unsupported tag 'call'"),
    "filter_block": ("{% filter upper %}x{% endfilter %}", "line 1: unsupported tag 'filter'"),
    "set_block": ("{% set x %}body{% endset %}{{ x }}",
                  "line 1: unsupported block form of 'set'"),
    "raw_block": ("\n{% raw %}{{ x }}{% endraw %}", "line 2: unsupported tag 'raw'"),
    "unknown_filter": ("{{ 'a' }}\n{{ [3, 1]|sort|join }}", "line 2: unsupported filter 'sort'"),
    "unknown_test": ("{{ 1 is sameas 1 }}", "line 1: unsupported test 'sameas'"),
    "recursive_loop": ("{% for x in [1] recursive %}{{ x }}{% endfor %}",
                       "line 1: unsupported recursive for loop"),
    "star_args": ("{{ range(*[3])|list }}", "line 1: unsupported *args/**kwargs in a call"),
    "string_formatting": ("{{ '%s!' % 'hi' }}",
                          "line 1: printf-style string formatting (%) is not supported"),
}

# Templates Jinja2 rejects too; the error text here is this project's own.
SYNTAX_ERRORS = {
    "unclosed_if": ("{% if true %}\nx", "line 2: unexpected end of template, expected 'endif'"),
    "unclosed_for": ("{% for x in y %}{% if x %}{% endif %}",
                     "line 1: unexpected end of template, expected 'endfor'"),
    "unclosed_variable": ("a\n{{ x", "line 2: unexpected end of template, expected '}}'"),
    "unclosed_comment": ("{# x", "line 1: missing end of comment tag"),
    "unterminated_string": ("{{ 'abc }}", "line 1: unterminated string literal"),
    "unbalanced_brackets": ("{{ (1 }}", "line 1: unexpected '}'"),
    "missing_expression": ("\n{% if %}{% endif %}",
                           "line 2: expected an expression, got end of statement block"),
    "unknown_tag": ("{% frobnicate %}", "line 1: unknown tag 'frobnicate'"),
    "stray_end_tag": ("x\n{% endfor %}", "line 2: unknown tag 'endfor'"),
    "break_outside_loop": ("{% break %}", "line 1: 'break' outside a loop"),
}


def own_error_cases(env):
    cases = []
    for group, jinja_parses in ((UNSUPPORTED, True), (SYNTAX_ERRORS, False)):
        prefix = "unsupported" if jinja_parses else "syntax"
        for name, (source, message) in group.items():
            try:
                env.from_string(source)
                parses = True
            except jinja2.exceptions.TemplateSyntaxError:
                parses = False
            except SyntaxError:  # Jinja2 compiles to Python, which may refuse the result
                parses = False
            if parses != jinja_parses:
                sys.exit(f"{prefix}_{name}: Jinja2 {'rejects' if jinja_parses else 'accepts'} it")
            case = language_case(f"{prefix}_{name}", source)
            case["error"] = message
            cases.append(case)
    return cases


def template_line(error):
    """The template line the error came from, as Jinja2's rewritten traceback reports it."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == "<template>"]
    return lines[-1] if lines else None


def render(env, case):
    source = case["source"] if "source" in case else read_template(TEMPLATES[case["template"]][0])
    variables = {
        "messages": case["messages"],
        "tools": None,
        "documents": None,
        "add_generation_prompt": case["add_generation_prompt"],
        "bos_token": case["bos_token"],
        "eos_token": case["eos_token"],
    }
    variables.update(case["extra_variables"])
    try:
        case["expected"] = env.from_string(source).render(**variables)
    except (jinja2.exceptions.TemplateError, ArithmeticError, TypeError, ValueError) as error:
        case["error"] = str(error)
        case["error_line"] = template_line(error)


def main():
    check_config_copies()
    env = make_environment()
    cases = chat_cases() + language_cases()
    for case in cases:
        render(env, case)
    cases += own_error_cases(env)
    out = {
        "generator": "tests/data/chat_templates/make_expected.py",
        "jinja2_version": jinja2.__version__,
        "now": NOW.isoformat(),
        "templates": {name: spec[0] for name, spec in TEMPLATES.items()},
        "cases": cases,
    }
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {sum('error' in c for c in cases)} of them errors")


if __name__ == "__main__":
    main()
