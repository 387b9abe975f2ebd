"""What generation produces: why it finished, and the tokens of one session step."""
import dataclasses
import enum
from typing import Optional

from tessera._proto import pb


class FinishReason(enum.Enum):
    """Why a generation or session ended."""

    LENGTH = pb.FINISH_REASON_LENGTH
    STOP = pb.FINISH_REASON_STOP
    END_OF_SEQUENCE = pb.FINISH_REASON_END_OF_SEQUENCE
    CANCELLED = pb.FINISH_REASON_CANCELLED

    @classmethod
    def from_proto(cls, value: int) -> Optional["FinishReason"]:
        """None while not finished (FINISH_REASON_UNSPECIFIED)."""
        return None if value == pb.FINISH_REASON_UNSPECIFIED else cls(value)


@dataclasses.dataclass(frozen=True)
class Step:
    """The tokens one Prefill or Decode sampled, their text, and whether the session ended."""

    text: str
    tokens: list  # of pb.GeneratedToken, with logprobs when asked for
    finish_reason: Optional[FinishReason]

    @property
    def token_ids(self) -> list:
        return [token.token_id for token in self.tokens]
