package dev.tessera.client;

import dev.tessera.inference.v1.GenerateRequest;
import dev.tessera.inference.v1.GenerateResponse;
import dev.tessera.inference.v1.InferenceServiceGrpc.InferenceServiceBlockingStub;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A streamed completion. Iterate its responses (the last one carries the finish reason and
 * usage), or read {@link #texts()}. Closing it before the end cancels the call, which stops the
 * generation on the server.
 */
public final class Generation implements Iterator<GenerateResponse>, AutoCloseable {
  // The call runs in its own context, so cancelling that context cancels only this call.
  private final Context.CancellableContext context = Context.current().withCancellation();
  private final Iterator<GenerateResponse> responses;
  private volatile boolean closed;

  Generation(InferenceServiceBlockingStub stub, GenerateRequest request) {
    Context previous = context.attach();
    try {
      responses = stub.generate(request);
    } finally {
      context.detach(previous);
    }
  }

  @Override
  public boolean hasNext() {
    if (closed) {
      return false;
    }
    try {
      return responses.hasNext();
    } catch (StatusRuntimeException e) {
      throw new TesseraException(e);
    }
  }

  @Override
  public GenerateResponse next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return responses.next();
  }

  /** The text deltas in order; closing the stream closes this generation. */
  public Stream<String> texts() {
    Spliterator<GenerateResponse> spliterator =
        Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL);
    return StreamSupport.stream(spliterator, false)
        .map(GenerateResponse::getText)
        .onClose(this::close);
  }

  /** Cancels the call unless it has ended; iteration then stops. Safe from any thread. */
  @Override
  public void close() {
    closed = true;
    context.cancel(null);
  }
}
