#!/usr/bin/env python3
"""Prints the ids the Hugging Face `tokenizers` library gives each case of
tokenizer-hard-cases.inp (no special tokens added), one line of space-separated ids per case,
in the format of llama.cpp's .out vectors. The tests read the output from
tokenizer-hard-cases.<Name>.out when it exists:

  DATA=../shared/testdata/hf   # from the repository root
  for pair in Llama3:llama3 Qwen2:qwen3 Phi3:phi3; do
    python3 tests/data/tokenizer/make_hard_cases.py "$DATA/${pair#*:}/tokenizer.json" \
      > "tests/data/tokenizer/tokenizer-hard-cases.${pair%%:*}.out"
  done
"""
import pathlib
import sys

from tokenizers import Tokenizer

SEPARATOR = "\n__ggml_vocab_test__\n"


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} TOKENIZER.json > OUT")
    tokenizer = Tokenizer.from_file(sys.argv[1])
    inp = pathlib.Path(__file__).with_name("tokenizer-hard-cases.inp")
    # The file ends with a separator, so the last split is an empty case, as in llama.cpp's files.
    lines = []
    # Bytes, not read_text: universal-newline reading would turn the cases' "\r\n" into "\n".
    for text in inp.read_bytes().decode("utf-8").split(SEPARATOR):
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        lines.append(" ".join(str(i) for i in ids))
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
