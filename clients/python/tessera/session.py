"""A session: a prompt's KV cache held on the server, advanced step by step. Entering the
`with` block runs Prefill (the first token is `first`), or ForkSession for a session from
fork(); leaving it releases the session."""
from collections.abc import Sequence
from typing import Optional, Self, Union

from tessera._proto import pb
from tessera.errors import raising_tessera_errors
from tessera.results import FinishReason, Step


class _SessionState:
    def __init__(self, stub, request: Union[pb.PrefillRequest, pb.ForkSessionRequest]):
        self._stub = stub
        self._request = request
        self.id = ""
        self.request_id = ""
        self.first: Optional[Step] = None
        self.finish_reason: Optional[FinishReason] = None
        self.usage: Optional[pb.Usage] = None

    def fork(self, *, request_id: str = "") -> Self:
        """A new session going on from where this one stands, sharing its KV cache, to use in
        its own `with` block. It has no `first`: the next token comes from its decode()."""
        return type(self)(self._stub, pb.ForkSessionRequest(session_id=self.id,
                                                            request_id=request_id))

    def _open(self):
        if isinstance(self._request, pb.ForkSessionRequest):
            return self._stub.ForkSession(self._request)
        return self._stub.Prefill(self._request)

    def _opened(self, response: Union[pb.PrefillResponse, pb.ForkSessionResponse]) -> None:
        self.id = response.session_id
        self.request_id = response.request_id
        self.usage = response.usage
        if isinstance(response, pb.PrefillResponse):
            # No first token when the Prefill was cancelled before sampling one.
            tokens = [response.token] if response.HasField("token") else []
            self.first = self._stepped(response, tokens)

    def _decode_request(self, num_tokens: int, append_token_ids: Sequence[int]):
        return pb.DecodeRequest(session_id=self.id, num_tokens=num_tokens,
                                append_token_ids=append_token_ids)

    def _stepped(self, response, tokens: list) -> Step:
        self.finish_reason = FinishReason.from_proto(response.finish_reason)
        self.usage = response.usage
        return Step(response.text, tokens, self.finish_reason)


class Session(_SessionState):
    """`with client.session(...) as session:` then `session.decode()`."""

    def __enter__(self):
        with raising_tessera_errors():
            self._opened(self._open())
        return self

    def __exit__(self, *exc_info):
        self.release()

    def decode(self, num_tokens: int = 1, append_token_ids: Sequence[int] = ()) -> Step:
        """Appends `append_token_ids` to the context, then samples up to `num_tokens` tokens."""
        with raising_tessera_errors():
            response = self._stub.Decode(self._decode_request(num_tokens, append_token_ids))
        return self._stepped(response, list(response.tokens))

    def release(self) -> None:
        """Frees the session and its KV cache on the server."""
        with raising_tessera_errors():
            self._stub.ReleaseSession(pb.ReleaseSessionRequest(session_id=self.id))


class AsyncSession(_SessionState):
    """`async with client.session(...) as session:` then `await session.decode()`."""

    async def __aenter__(self):
        with raising_tessera_errors():
            self._opened(await self._open())
        return self

    async def __aexit__(self, *exc_info):
        await self.release()

    async def decode(self, num_tokens: int = 1, append_token_ids: Sequence[int] = ()) -> Step:
        """Appends `append_token_ids` to the context, then samples up to `num_tokens` tokens."""
        with raising_tessera_errors():
            response = await self._stub.Decode(self._decode_request(num_tokens, append_token_ids))
        return self._stepped(response, list(response.tokens))

    async def release(self) -> None:
        """Frees the session and its KV cache on the server."""
        with raising_tessera_errors():
            await self._stub.ReleaseSession(pb.ReleaseSessionRequest(session_id=self.id))
