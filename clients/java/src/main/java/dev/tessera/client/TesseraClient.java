package dev.tessera.client;

import dev.tessera.inference.v1.CancelRequest;
import dev.tessera.inference.v1.DetokenizeRequest;
import dev.tessera.inference.v1.GenerateRequest;
import dev.tessera.inference.v1.GetModelRequest;
import dev.tessera.inference.v1.GetServerInfoRequest;
import dev.tessera.inference.v1.GetServerInfoResponse;
import dev.tessera.inference.v1.InferenceServiceGrpc;
import dev.tessera.inference.v1.InferenceServiceGrpc.InferenceServiceBlockingStub;
import dev.tessera.inference.v1.ListModelsRequest;
import dev.tessera.inference.v1.LoadModelRequest;
import dev.tessera.inference.v1.LoadModelResponse;
import dev.tessera.inference.v1.LoadProgress;
import dev.tessera.inference.v1.ModelInfo;
import dev.tessera.inference.v1.PrefillRequest;
import dev.tessera.inference.v1.TokenizeRequest;
import dev.tessera.inference.v1.TokenizeResponse;
import dev.tessera.inference.v1.UnloadModelRequest;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A connection to a Tessera server. Calls block and throw {@link TesseraException} when they
 * fail; a call made inside a {@code Context.CancellableContext} is cancelled with it. Safe to
 * share between threads.
 */
public final class TesseraClient implements AutoCloseable {
  private final ManagedChannel channel;
  private final InferenceServiceBlockingStub stub;

  private TesseraClient(ManagedChannel channel) {
    this.channel = channel;
    this.stub = InferenceServiceGrpc.newBlockingStub(channel);
  }

  /** Connects to a server at "host:port", which serves without TLS. */
  public static TesseraClient connect(String target) {
    return new TesseraClient(ManagedChannelBuilder.forTarget(target).usePlaintext().build());
  }

  /**
   * Loads a model file on the server, passing each progress report to onProgress, and returns
   * the loaded model.
   */
  public ModelInfo loadModel(LoadModelRequest request, Consumer<LoadProgress> onProgress) {
    // Leaving early (onProgress threw) cancels the call, which stops a load still under way.
    Context.CancellableContext context = Context.current().withCancellation();
    Context previous = context.attach();
    try {
      return TesseraException.mapErrors(() -> {
        Iterator<LoadModelResponse> responses = stub.loadModel(request);
        while (responses.hasNext()) {
          LoadModelResponse response = responses.next();
          if (response.hasModel()) {
            return response.getModel();
          }
          onProgress.accept(response.getProgress());
        }
        throw new IllegalStateException("LoadModel ended without the model's info");
      });
    } finally {
      context.detach(previous);
      context.cancel(null);
    }
  }

  /** Unloads a model once its running requests finish. */
  public void unloadModel(String name) {
    TesseraException.mapErrors(
        () -> stub.unloadModel(UnloadModelRequest.newBuilder().setName(name).build()));
  }

  /** The loaded models, sorted by name. */
  public List<ModelInfo> listModels() {
    return TesseraException.mapErrors(
        () -> stub.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
  }

  /** The loaded model with this name; NOT_FOUND when there is none. */
  public ModelInfo getModel(String name) {
    return TesseraException.mapErrors(
        () -> stub.getModel(GetModelRequest.newBuilder().setName(name).build()).getModel());
  }

  /** The server's version, build, devices and loaded models. */
  public GetServerInfoResponse serverInfo() {
    return TesseraException.mapErrors(
        () -> stub.getServerInfo(GetServerInfoRequest.getDefaultInstance()));
  }

  /** Token ids and vocabulary entries of text; special tokens in it are plain text. */
  public TokenizeResponse tokenize(String model, String text, boolean addSpecialTokens) {
    TokenizeRequest request = TokenizeRequest.newBuilder()
        .setModel(model)
        .setText(text)
        .setAddSpecialTokens(addSpecialTokens)
        .build();
    return TesseraException.mapErrors(() -> stub.tokenize(request));
  }

  /** The text token ids decode to. */
  public String detokenize(String model, Iterable<Integer> tokenIds) {
    DetokenizeRequest request =
        DetokenizeRequest.newBuilder().setModel(model).addAllTokenIds(tokenIds).build();
    return TesseraException.mapErrors(() -> stub.detokenize(request).getText());
  }

  /**
   * Starts a streamed completion. Its errors arrive as TesseraException while iterating; closing
   * the Generation stops it early.
   */
  public Generation generate(GenerateRequest request) {
    return new Generation(stub, request);
  }

  /** Opens a session with the prompt's KV cache and its first token; close it to release. */
  public Session prefill(PrefillRequest request) {
    return TesseraException.mapErrors(() -> new Session(stub, stub.prefill(request)));
  }

  /** Stops the generation or session step with this request id, from any connection. */
  public void cancel(String requestId) {
    TesseraException.mapErrors(
        () -> stub.cancel(CancelRequest.newBuilder().setRequestId(requestId).build()));
  }

  /** Closes the connection, cancelling the calls still running on it. */
  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
