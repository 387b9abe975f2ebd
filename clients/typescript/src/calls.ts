// grpc-js's callback and stream calls as promises and async iterators that an AbortSignal
// cancels, failing with TesseraError.
import {
  type CallOptions as GrpcCallOptions, type ClientReadableStream, type ClientUnaryCall, Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { toTesseraError } from "./errors";

/** Options every call takes. */
export interface CallOptions {
  /** Aborting it cancels the call, which then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** When the call fails with DEADLINE_EXCEEDED, as a Date or milliseconds since the epoch. */
  deadline?: Date | number;
}

type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall;

export function grpcOptions(options: CallOptions): Partial<GrpcCallOptions> {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

export function unary<Request, Response>(
  method: UnaryMethod<Request, Response>,
  request: Request,
  options: CallOptions = {},
): Promise<Response> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const call = method(request, new Metadata(), grpcOptions(options), (error, response) => {
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) reject(signal.reason);
      else if (error) reject(toTesseraError(error));
      else resolve(response);
    });
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The messages of a server stream. Leaving the loop early cancels the call. */
export function streamed<Response>(
  call: ClientReadableStream<Response>,
  signal?: AbortSignal,
): AsyncGenerator<Response> {
  // Listening now, not once reading starts: an abort cancels the call even if nobody reads it,
  // and grpc-js reports a failure with an 'error' event at once, which nobody reading yet would
  // leave unhandled (and lost to the later reader, who would see the stream merely end).
  const onAbort = () => call.cancel();
  if (signal?.aborted) call.cancel();
  else signal?.addEventListener("abort", onAbort, { once: true });
  let failure: unknown;
  call.on("error", (error) => failure = error);

  async function* read(): AsyncGenerator<Response> {
    try {
      signal?.throwIfAborted();
      for await (const message of call) yield message as Response;
      if (failure !== undefined) throw failure;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw toTesseraError(error);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // Tells the server to stop when the reader left early; after the call ended it does nothing.
      call.cancel();
    }
  }
  return read();
}
