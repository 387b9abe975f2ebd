"""Errors: a failed call raises a TesseraError carrying the gRPC status code, the server's message
and the stable reason the contract names (MODEL_NOT_FOUND, SESSION_BUSY, ...)."""
import contextlib
from typing import Optional

import grpc

from tessera._proto import error_details_pb2, status_pb2


class TesseraError(Exception):
    """A call the server (or the channel) failed. `code` is a grpc.StatusCode."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: Optional[str] = None):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason


class InvalidArgumentError(TesseraError):
    """A request field is out of range or missing."""


class NotFoundError(TesseraError):
    """No such model, model file, session or running request."""


class AlreadyExistsError(TesseraError):
    """The model name or request id is taken."""


class FailedPreconditionError(TesseraError):
    """The session is busy or finished, or the model has no chat template."""


class ResourceExhaustedError(TesseraError):
    """No room in the KV cache or on the device now."""


class UnimplementedError(TesseraError):
    """The model file uses an architecture or tensor type the server lacks."""


class UnavailableError(TesseraError):
    """The server cannot be reached."""


class DeadlineExceededError(TesseraError):
    """The call ran past its deadline."""


_ERROR_TYPES = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _reason(trailing_metadata) -> Optional[str]:
    """The google.rpc.ErrorInfo reason among the status details the server attaches."""
    for key, value in trailing_metadata or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return info.reason
    return None


def from_rpc_error(error: grpc.RpcError) -> TesseraError:
    """The TesseraError for a failed call, from the sync or the asyncio API."""
    code = error.code()
    error_type = _ERROR_TYPES.get(code, TesseraError)
    return error_type(code, error.details() or "", _reason(error.trailing_metadata()))


@contextlib.contextmanager
def raising_tessera_errors():
    """Turns a grpc.RpcError raised in the block into the matching TesseraError."""
    try:
        yield
    except grpc.RpcError as error:
        raise from_rpc_error(error) from error
