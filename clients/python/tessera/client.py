"""Client: the InferenceService over a blocking gRPC channel."""
from collections.abc import Sequence
from typing import Optional

import grpc

from tessera._proto import pb, pb_grpc
from tessera.errors import raising_tessera_errors
from tessera.generation import Generation
from tessera.model_load import ModelLoad
from tessera.options import GenerationOptions, PromptLike, generate_request, prefill_request
from tessera.session import Session

DEFAULT_ADDRESS = "localhost:50051"


class Client:
    """A connection to a Tessera server; use it as a context manager, or close() it.

    `options` are gRPC channel arguments; `credentials` (grpc.ssl_channel_credentials())
    makes the channel secure. The generated stub is `stub`, for what the wrapper leaves out.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 options: Sequence[tuple] = ()):
        if credentials is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            self._channel = grpc.secure_channel(address, credentials, options=options)
        self.stub = pb_grpc.InferenceServiceStub(self._channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        self._channel.close()

    def load_model(self, name: str, path: str, *, device: str = "",
                   kv_cache_capacity_tokens: int = 0,
                   kv_cache_memory_fraction: float = 0.0) -> ModelLoad:
        """Loads the model file at `path` (on the server) as `name`; iterate for progress."""
        return ModelLoad(self.stub.LoadModel(pb.LoadModelRequest(
            name=name, path=path, device=device,
            kv_cache_capacity_tokens=kv_cache_capacity_tokens,
            kv_cache_memory_fraction=kv_cache_memory_fraction)))

    def unload_model(self, name: str) -> None:
        with raising_tessera_errors():
            self.stub.UnloadModel(pb.UnloadModelRequest(name=name))

    def list_models(self) -> list:
        """The loaded models' ModelInfo, sorted by name."""
        with raising_tessera_errors():
            return list(self.stub.ListModels(pb.ListModelsRequest()).models)

    def get_model(self, name: str) -> pb.ModelInfo:
        with raising_tessera_errors():
            return self.stub.GetModel(pb.GetModelRequest(name=name)).model

    def tokenize(self, model: str, text: str, *, add_special_tokens: bool = False) -> list:
        """The token ids of `text`."""
        with raising_tessera_errors():
            return list(self.stub.Tokenize(pb.TokenizeRequest(
                model=model, text=text, add_special_tokens=add_special_tokens)).token_ids)

    def detokenize(self, model: str, token_ids: Sequence[int]) -> str:
        with raising_tessera_errors():
            return self.stub.Detokenize(pb.DetokenizeRequest(
                model=model, token_ids=token_ids)).text

    def generate(self, model: str, prompt: PromptLike, *, request_id: str = "",
                 **options) -> Generation:
        """Streams a completion of `prompt` (text, token ids or chat messages); iterate for the
        text. `options` are GenerationOptions' fields: max_tokens, temperature, stop, ..."""
        request = generate_request(model, prompt, request_id, GenerationOptions(**options))
        return Generation(self.stub.Generate(request))

    def session(self, model: str, prompt: PromptLike, *, request_id: str = "",
                **options) -> Session:
        """A session to use in a `with` block, which opens (Prefill) and releases it."""
        request = prefill_request(model, prompt, request_id, GenerationOptions(**options))
        return Session(self.stub, request)

    def cancel(self, request_id: str) -> None:
        """Stops the running generation or session step with this request id."""
        with raising_tessera_errors():
            self.stub.Cancel(pb.CancelRequest(request_id=request_id))

    def server_info(self) -> pb.GetServerInfoResponse:
        with raising_tessera_errors():
            return self.stub.GetServerInfo(pb.GetServerInfoRequest())
