#!/usr/bin/env python3
"""Writes what the Hugging Face `tokenizers` library makes of each case of
tokenizer-hard-cases.inp, for every tokenizer.json named on the command line:

  tokenizer-hard-cases.<Name>.out      the ids, one line of space-separated ids per case, in
                                       the format of llama.cpp's .out vectors. No special tokens
                                       are added, but added tokens written in a case are split
                                       off (taking the whitespace their lstrip/rstrip say), as
                                       for a prompt a chat template wrote.
  tokenizer-hard-cases.<Name>.decoded  the text those ids decode to with special tokens skipped,
                                       in the .inp format; where it is the case itself, the
                                       reference round-trips.

The cases are digit runs, contractions, scripts, emoji and whitespace runs; text that NFC
changes (decomposed accents, conjoining jamo, the angstrom sign, marks out of canonical order)
or keeps while NFKC would not (ligatures, circled and full-width forms), alone and beside
special tokens; and special tokens with whitespace around them, for Phi-3's rstrip. From the
repository root:

  DATA=../shared/testdata/hf
  python3 tests/data/tokenizer/make_hard_cases.py tests/data/tokenizer \\
    Llama3=$DATA/llama3/tokenizer.json Qwen2=$DATA/qwen3/tokenizer.json \\
    Phi3=$DATA/phi3/tokenizer.json
"""
import pathlib
import sys

from tokenizers import Tokenizer

SEPARATOR = "\n__ggml_vocab_test__\n"


def main() -> None:
    if len(sys.argv) < 3 or not all("=" in arg for arg in sys.argv[2:]):
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR NAME=TOKENIZER.json...")
    out_dir = pathlib.Path(sys.argv[1])
    inp = pathlib.Path(__file__).with_name("tokenizer-hard-cases.inp")
    # Bytes, not read_text: universal-newline reading would turn the cases' "\r\n" into "\n".
    # The file ends with a separator, so the last split is an empty case, as in llama.cpp's files.
    cases = inp.read_bytes().decode("utf-8").split(SEPARATOR)
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        tokenizer = Tokenizer.from_file(path)
        ids = [tokenizer.encode(text, add_special_tokens=False).ids for text in cases]
        lines = [" ".join(str(i) for i in case_ids) for case_ids in ids]
        decoded = [tokenizer.decode(case_ids, skip_special_tokens=True) for case_ids in ids]
        base = f"tokenizer-hard-cases.{name}"
        (out_dir / f"{base}.out").write_bytes("\n".join(lines).encode("utf-8"))
        (out_dir / f"{base}.decoded").write_bytes(SEPARATOR.join(decoded).encode("utf-8"))


if __name__ == "__main__":
    main()
