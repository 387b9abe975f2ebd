"""AsyncClient: the InferenceService over a grpc.aio channel, for asyncio code."""
from collections.abc import Sequence
from typing import Optional

import grpc

from tessera._proto import pb, pb_grpc
from tessera.client import DEFAULT_ADDRESS
from tessera.errors import raising_tessera_errors
from tessera.generation import AsyncGeneration
from tessera.model_load import AsyncModelLoad
from tessera.options import GenerationOptions, PromptLike, generate_request, prefill_request
from tessera.session import AsyncSession


class AsyncClient:
    """Client's methods as coroutines (or async iterables and context managers for streams
    and sessions). Create it inside the event loop; use `async with`, or `await close()`."""

    def __init__(self, address: str = DEFAULT_ADDRESS, *,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 options: Sequence[tuple] = ()):
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(address, options=options)
        else:
            self._channel = grpc.aio.secure_channel(address, credentials, options=options)
        self.stub = pb_grpc.InferenceServiceStub(self._channel)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    def load_model(self, name: str, path: str, *, device: str = "",
                   kv_cache_capacity_tokens: int = 0,
                   kv_cache_memory_fraction: float = 0.0) -> AsyncModelLoad:
        """Loads the model file at `path` (on the server) as `name`; `async for` the progress."""
        return AsyncModelLoad(self.stub.LoadModel(pb.LoadModelRequest(
            name=name, path=path, device=device,
            kv_cache_capacity_tokens=kv_cache_capacity_tokens,
            kv_cache_memory_fraction=kv_cache_memory_fraction)))

    async def unload_model(self, name: str) -> None:
        with raising_tessera_errors():
            await self.stub.UnloadModel(pb.UnloadModelRequest(name=name))

    async def list_models(self) -> list:
        """The loaded models' ModelInfo, sorted by name."""
        with raising_tessera_errors():
            return list((await self.stub.ListModels(pb.ListModelsRequest())).models)

    async def get_model(self, name: str) -> pb.ModelInfo:
        with raising_tessera_errors():
            return (await self.stub.GetModel(pb.GetModelRequest(name=name))).model

    async def tokenize(self, model: str, text: str, *, add_special_tokens: bool = False) -> list:
        """The token ids of `text`."""
        with raising_tessera_errors():
            response = await self.stub.Tokenize(pb.TokenizeRequest(
                model=model, text=text, add_special_tokens=add_special_tokens))
        return list(response.token_ids)

    async def detokenize(self, model: str, token_ids: Sequence[int]) -> str:
        with raising_tessera_errors():
            response = await self.stub.Detokenize(pb.DetokenizeRequest(
                model=model, token_ids=token_ids))
        return response.text

    def generate(self, model: str, prompt: PromptLike, *, request_id: str = "",
                 **options) -> AsyncGeneration:
        """Streams a completion of `prompt`; `async for` the text. `options` as Client's."""
        request = generate_request(model, prompt, request_id, GenerationOptions(**options))
        return AsyncGeneration(self.stub.Generate(request))

    def session(self, model: str, prompt: PromptLike, *, request_id: str = "",
                **options) -> AsyncSession:
        """A session to use in an `async with` block, which opens (Prefill) and releases it."""
        request = prefill_request(model, prompt, request_id, GenerationOptions(**options))
        return AsyncSession(self.stub, request)

    async def cancel(self, request_id: str) -> None:
        """Stops the running generation or session step with this request id."""
        with raising_tessera_errors():
            await self.stub.Cancel(pb.CancelRequest(request_id=request_id))

    async def server_info(self) -> pb.GetServerInfoResponse:
        with raising_tessera_errors():
            return await self.stub.GetServerInfo(pb.GetServerInfoRequest())
