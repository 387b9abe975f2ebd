// Failed calls reject with a TesseraError: the gRPC status code, and the stable reason the server
// attaches to every error as a google.rpc.ErrorInfo detail.
import { type ServiceError, status } from "@grpc/grpc-js";
import { ErrorInfo } from "../gen/google/rpc/error_details";
import { Status } from "../gen/google/rpc/status";

const ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo";

export class TesseraError extends Error {
  override readonly name = "TesseraError";

  constructor(
    message: string,
    /** The gRPC status code, e.g. `status.NOT_FOUND`. */
    readonly code: status,
    /** The server's reason, e.g. "MODEL_NOT_FOUND"; empty when the error came without one. */
    readonly reason = "",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as ServiceError).code === "number" &&
    (error as ServiceError).metadata !== undefined;
}

// The reason travels in the status details trailer, a serialized google.rpc.Status.
function errorReason(error: ServiceError): string {
  const [details] = error.metadata.get("grpc-status-details-bin");
  if (!(details instanceof Buffer)) return "";
  const info = Status.decode(details).details.find((any) => any.typeUrl === ERROR_INFO_TYPE);
  return info ? ErrorInfo.decode(info.value).reason : "";
}

/** Turns a gRPC error into a TesseraError; anything else is returned as it is. */
export function toTesseraError(error: unknown): unknown {
  if (!isServiceError(error)) return error;
  return new TesseraError(`${status[error.code]}: ${error.details}`, error.code,
    errorReason(error), { cause: error });
}
