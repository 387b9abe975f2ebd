package dev.tessera.client;

import dev.tessera.inference.v1.DecodeRequest;
import dev.tessera.inference.v1.DecodeResponse;
import dev.tessera.inference.v1.ForkSessionRequest;
import dev.tessera.inference.v1.ForkSessionResponse;
import dev.tessera.inference.v1.InferenceServiceGrpc.InferenceServiceBlockingStub;
import dev.tessera.inference.v1.PrefillResponse;
import dev.tessera.inference.v1.ReleaseSessionRequest;

/**
 * A prompt's KV cache held on the server, advanced step by step with {@link #decode}. Closing
 * it releases the cache; use it in try-with-resources.
 */
public final class Session implements AutoCloseable {
  private final InferenceServiceBlockingStub stub;
  private final String id;
  private final String requestId;
  private final PrefillResponse prefill;
  private boolean released;

  Session(InferenceServiceBlockingStub stub, PrefillResponse prefill) {
    this(stub, prefill.getSessionId(), prefill.getRequestId(), prefill);
  }

  private Session(
      InferenceServiceBlockingStub stub, String id, String requestId, PrefillResponse prefill) {
    this.stub = stub;
    this.id = id;
    this.requestId = requestId;
    this.prefill = prefill;
  }

  /** The id the server gave the session. */
  public String id() {
    return id;
  }

  /** The request id of the session's Decode calls, for {@link TesseraClient#cancel}. */
  public String requestId() {
    return requestId;
  }

  /**
   * The Prefill's answer: the first token, its text, and the usage so far; null for a session
   * from {@link #fork}.
   */
  public PrefillResponse prefill() {
    return prefill;
  }

  /** Samples the next numTokens tokens (fewer when the session finishes first). */
  public DecodeResponse decode(int numTokens) {
    return decode(DecodeRequest.newBuilder().setNumTokens(numTokens));
  }

  /** Appends tokens to the context, then samples the next numTokens tokens. */
  public DecodeResponse decode(Iterable<Integer> appendTokenIds, int numTokens) {
    return decode(
        DecodeRequest.newBuilder().addAllAppendTokenIds(appendTokenIds).setNumTokens(numTokens));
  }

  private DecodeResponse decode(DecodeRequest.Builder request) {
    return TesseraException.mapErrors(() -> stub.decode(request.setSessionId(id()).build()));
  }

  /**
   * Opens a new session that goes on from where this one stands, with the same context,
   * sampling state and settings, sharing its KV cache; close it to release it. The server names
   * its request.
   */
  public Session fork() {
    ForkSessionResponse fork = TesseraException.mapErrors(
        () -> stub.forkSession(ForkSessionRequest.newBuilder().setSessionId(id()).build()));
    return new Session(stub, fork.getSessionId(), fork.getRequestId(), null);
  }

  /** Releases the session on the server; later calls do nothing. */
  @Override
  public void close() {
    if (released) {
      return;
    }
    released = true;
    TesseraException.mapErrors(
        () -> stub.releaseSession(ReleaseSessionRequest.newBuilder().setSessionId(id()).build()));
  }
}
