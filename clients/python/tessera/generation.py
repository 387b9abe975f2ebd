"""A streamed Generate call: iterating gives the text deltas; the tokens, the finish reason and
the usage gather on the object as they arrive. cancel(), leaving the `with` block or leaving the
loop early stops the call: the server ends the generation (FINISH_REASON_CANCELLED)."""
import asyncio
from typing import Optional

import grpc

from tessera._proto import pb
from tessera.errors import from_rpc_error
from tessera.results import FinishReason


class _GenerationState:
    def __init__(self, call):
        self._call = call
        # Set by cancel(): the failed read that follows is ours, so the stream ends quietly.
        self._cancelled = False
        self.request_id = ""
        self.text = ""
        self.tokens: list = []  # of pb.GeneratedToken, with logprobs when asked for
        self.finish_reason: Optional[FinishReason] = None
        self.usage: Optional[pb.Usage] = None

    @property
    def token_ids(self) -> list:
        return [token.token_id for token in self.tokens]

    def cancel(self) -> None:
        """Stops the generation unless it has finished; iteration then ends."""
        if self.finish_reason is None and not self._cancelled:
            self._cancelled = True
            self._call.cancel()

    def _take(self, response: pb.GenerateResponse) -> str:
        self.request_id = response.request_id
        self.text += response.text
        self.tokens.extend(response.tokens)
        self.finish_reason = FinishReason.from_proto(response.finish_reason)
        if response.HasField("usage"):
            self.usage = response.usage
        return response.text


class Generation(_GenerationState):
    """`for delta in generation`, as a `with` block or not."""

    def __iter__(self):
        try:
            while True:
                try:
                    response = next(self._call, None)
                except grpc.RpcError as error:
                    if self._cancelled:
                        return
                    raise from_rpc_error(error) from error
                if response is None:
                    return
                # Text may be held back (a split character, a possible stop string).
                if self._take(response):
                    yield response.text
        except GeneratorExit:
            # The loop was left early: stop the generation rather than leave it running.
            self.cancel()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cancel()


class AsyncGeneration(_GenerationState):
    """`async for delta in generation`; `async with` it to cancel it as soon as the block is
    left."""

    async def __aiter__(self):
        try:
            while True:
                try:
                    response = await self._call.read()
                except asyncio.CancelledError:
                    if self._cancelled:
                        return
                    raise
                except grpc.RpcError as error:
                    if self._cancelled:
                        return
                    raise from_rpc_error(error) from error
                if response is grpc.aio.EOF:
                    return
                if self._take(response):
                    yield response.text
        except GeneratorExit:
            # Left early; asyncio closes an abandoned loop's generator soon after, not at once.
            self.cancel()
            raise

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self.cancel()
