"""A streamed LoadModel call: iterating gives the LoadProgress messages; the loaded model's
ModelInfo is `model` once the stream ends. Cancelling the call stops the load."""
from typing import Optional

import grpc

from tessera._proto import pb
from tessera.errors import from_rpc_error


class _ModelLoadState:
    def __init__(self, call):
        self._call = call
        self.model: Optional[pb.ModelInfo] = None

    def cancel(self) -> None:
        """Stops the load; the server leaves nothing loaded."""
        self._call.cancel()

    def _take(self, response: pb.LoadModelResponse) -> Optional[pb.LoadProgress]:
        if response.HasField("model"):
            self.model = response.model
            return None
        return response.progress


class ModelLoad(_ModelLoadState):
    """`for progress in load`, then `load.model`; or `load.wait()` for the model alone."""

    def __iter__(self):
        while True:
            try:
                response = next(self._call, None)
            except grpc.RpcError as error:
                raise from_rpc_error(error) from error
            if response is None:
                return
            progress = self._take(response)
            if progress is not None:
                yield progress

    def wait(self) -> pb.ModelInfo:
        """Waits for the load to finish, skipping the progress, and returns the model's info."""
        for _ in self:
            pass
        return self.model


class AsyncModelLoad(_ModelLoadState):
    """`async for progress in load`, then `load.model`; or `await load.wait()`."""

    async def __aiter__(self):
        while True:
            try:
                response = await self._call.read()
            except grpc.RpcError as error:
                raise from_rpc_error(error) from error
            if response is grpc.aio.EOF:
                return
            progress = self._take(response)
            if progress is not None:
                yield progress

    async def wait(self) -> pb.ModelInfo:
        async for _ in self:
            pass
        return self.model
