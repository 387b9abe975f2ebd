"""What the client tests share: the server tests/clients/with-server started, the llama2.c reference
text, and a channel that reads slowly enough for a stream to be stopped midway."""
import os
from pathlib import Path

ADDRESS = os.environ["TESSERA_ADDRESS"]
MODEL_PATH = os.environ["TESSERA_MODEL_PATH"]
MODEL = "stories"
PROMPT = "Once upon a time"
# Long enough for a repeat to find whole 16-token blocks of it cached.
LONG_PROMPT = ("The old lighthouse keeper climbed the winding stairs every evening to light the "
               "lamp, and the ships far out at sea")

# A small HTTP/2 window: the server blocks once a few responses go unread, so a generation that
# runs until the context is full is still running when the test stops it.
SLOW_READER_OPTIONS = (("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024))


def llama2c_greedy_continuation() -> str:
    """What llama2.c's run.c prints after PROMPT at temperature 0, from the model's notes."""
    doc = (Path(os.environ["TESSERA_TEST_DATA_DIR"]) / "llama2c" / "stories260K.md").read_text()
    start = doc.index("```\n", doc.index("temperature 0.0")) + len("```\n")
    end = doc.index("\n```", start)
    _command, output = doc[start:end].split("\n", 1)
    if not output.startswith(PROMPT):
        raise ValueError(f"the reference output does not start with {PROMPT!r}")
    return output[len(PROMPT):]
