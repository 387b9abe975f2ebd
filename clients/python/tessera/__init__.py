"""Python client for Tessera's inference service (tessera.inference.v1)."""
import pkgutil

# The modules generated from proto/ live in another `tessera` directory on sys.path (the build
# tree's gen/): let this package reach them as tessera.inference.v1.
__path__ = pkgutil.extend_path(__path__, __name__)

from tessera._proto import pb
from tessera.async_client import AsyncClient
from tessera.client import Client
from tessera.errors import (AlreadyExistsError, DeadlineExceededError, FailedPreconditionError,
                            InvalidArgumentError, NotFoundError, ResourceExhaustedError,
                            TesseraError, UnavailableError, UnimplementedError)
from tessera.generation import AsyncGeneration, Generation
from tessera.model_load import AsyncModelLoad, ModelLoad
from tessera.options import GenerationOptions, Priority
from tessera.results import FinishReason, Step
from tessera.session import AsyncSession, Session

__all__ = [
    "AlreadyExistsError", "AsyncClient", "AsyncGeneration", "AsyncModelLoad", "AsyncSession",
    "Client", "DeadlineExceededError", "FailedPreconditionError", "FinishReason", "Generation",
    "GenerationOptions", "InvalidArgumentError", "ModelLoad", "NotFoundError",
    "Priority", "ResourceExhaustedError", "Session", "Step", "TesseraError", "UnavailableError",
    "UnimplementedError", "pb",
]
