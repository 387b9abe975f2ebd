"""How a generation or session samples and stops, and the prompt it starts from, as keyword
arguments turned into the contract's messages. None (or the zero value) means the server's
default, as the proto documents for each field."""
import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Optional, Union

from tessera._proto import pb

# Text, token ids, or chat messages as {"role": ..., "content": ...} mappings.
PromptLike = Union[str, Sequence[int], Sequence[Mapping[str, str]]]


class Priority(enum.Enum):
    """Which requests a model serves first when they compete for its KV cache."""

    LOW = pb.PRIORITY_LOW
    NORMAL = pb.PRIORITY_NORMAL
    HIGH = pb.PRIORITY_HIGH


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    """The keyword arguments of generate() and session()."""

    max_tokens: int = 0
    stop: Sequence[str] = ()
    stop_token_ids: Sequence[int] = ()
    ignore_eos: bool = False
    temperature: Optional[float] = None
    top_k: int = 0
    top_p: Optional[float] = None
    min_p: float = 0.0
    repetition_penalty: Optional[float] = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: Mapping[int, float] = dataclasses.field(default_factory=dict)
    seed: Optional[int] = None
    logprobs: bool = False
    top_logprobs: int = 0
    priority: Priority = Priority.NORMAL

    def sampling(self) -> pb.SamplingParams:
        return pb.SamplingParams(
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            logit_bias=self.logit_bias,
            seed=self.seed,
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs,
        )

    def stop_criteria(self) -> pb.StopCriteria:
        return pb.StopCriteria(
            max_tokens=self.max_tokens,
            stop_strings=self.stop,
            stop_token_ids=self.stop_token_ids,
            ignore_eos=self.ignore_eos,
        )


def to_prompt(prompt: PromptLike) -> pb.Prompt:
    """The Prompt message for text, a sequence of token ids or a sequence of chat messages."""
    if isinstance(prompt, str):
        return pb.Prompt(text=prompt)
    if prompt and all(isinstance(message, Mapping) for message in prompt):
        messages = [pb.ChatMessage(role=m["role"], content=m["content"]) for m in prompt]
        return pb.Prompt(chat=pb.ChatMessages(messages=messages))
    return pb.Prompt(token_ids=pb.TokenIds(ids=prompt))


def generate_request(model: str, prompt: PromptLike, request_id: str,
                     options: GenerationOptions) -> pb.GenerateRequest:
    return pb.GenerateRequest(model=model, request_id=request_id, prompt=to_prompt(prompt),
                              sampling=options.sampling(), stop=options.stop_criteria(),
                              priority=options.priority.value)


def prefill_request(model: str, prompt: PromptLike, request_id: str,
                    options: GenerationOptions) -> pb.PrefillRequest:
    return pb.PrefillRequest(model=model, request_id=request_id, prompt=to_prompt(prompt),
                             sampling=options.sampling(), stop=options.stop_criteria(),
                             priority=options.priority.value)
