package dev.tessera.client;

import dev.tessera.inference.v1.DecodeResponse;
import dev.tessera.inference.v1.FinishReason;
import dev.tessera.inference.v1.GenerateRequest;
import dev.tessera.inference.v1.GenerateResponse;
import dev.tessera.inference.v1.GeneratedToken;
import dev.tessera.inference.v1.LoadModelRequest;
import dev.tessera.inference.v1.LoadProgress;
import dev.tessera.inference.v1.LoadStage;
import dev.tessera.inference.v1.ModelInfo;
import dev.tessera.inference.v1.PrefillRequest;
import dev.tessera.inference.v1.Priority;
import dev.tessera.inference.v1.Prompt;
import dev.tessera.inference.v1.SamplingParams;
import dev.tessera.inference.v1.StopCriteria;
import dev.tessera.inference.v1.Usage;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Checks the client against a live server started by tests/clients/with-server, which serves
 * the bundled model as "stories" at $TESSERA_ADDRESS.
 */
public final class ClientTest {
  private static final String MODEL = "stories";

  private interface Check {
    void run() throws Exception;
  }

  private final TesseraClient client;
  private int failures;

  private ClientTest(TesseraClient client) {
    this.client = client;
  }

  public static void main(String[] args) {
    int failures;
    try (TesseraClient client = TesseraClient.connect(System.getenv("TESSERA_ADDRESS"))) {
      ClientTest test = new ClientTest(client);
      test.check("ListModels sees stories", test::listModelsSeesStories);
      test.check("LoadModel streams progress, UnloadModel removes it", test::loadAndUnload);
      test.check("Tokenize and Detokenize round-trip", test::tokenizeRoundTrip);
      test.check("greedy Generate matches llama2.c", test::greedyGenerateMatchesLlama2c);
      test.check("Cancel ends a stream as cancelled", test::cancelEndsTheStream);
      test.check("closing a stream stops it on the server", test::closingStopsTheStream);
      test.check("a session decodes and is released", test::sessionDecodesAndIsReleased);
      test.check("a fork and its parent both continue as the session",
          test::forkAndParentBothContinue);
      test.check("a repeated prompt reports cached tokens", test::repeatedPromptIsCached);
      test.check("priority changes no token", test::priorityChangesNoToken);
      test.check("an unknown model is NOT_FOUND", test::unknownModelIsNotFound);
      failures = test.failures;
    }
    System.out.println(failures == 0 ? "all checks passed" : failures + " checks failed");
    System.exit(failures == 0 ? 0 : 1);
  }

  private void check(String name, Check check) {
    try {
      check.run();
      System.out.println("ok    " + name);
    } catch (Exception | AssertionError e) {
      failures++;
      System.out.println("FAIL  " + name);
      e.printStackTrace(System.out);
    }
  }

  private void listModelsSeesStories() {
    List<String> names = client.listModels().stream().map(ModelInfo::getName).toList();
    expect(names.contains(MODEL), "ListModels gave " + names);
    expect(!client.serverInfo().getVersion().isEmpty(), "GetServerInfo gave no version");
  }

  private void loadAndUnload() {
    String name = "stories-java";
    List<LoadProgress> progress = new ArrayList<>();
    LoadModelRequest request = LoadModelRequest.newBuilder()
        .setName(name)
        .setPath(System.getenv("TESSERA_MODEL_PATH"))
        .setDevice("cpu")
        .build();
    ModelInfo loaded = client.loadModel(request, progress::add);
    expect(loaded.getName().equals(name), "LoadModel gave " + loaded.getName());
    expect(loaded.getVocabSize() == client.getModel(MODEL).getVocabSize(), "vocab sizes differ");
    expect(!progress.isEmpty() && progress.get(0).getStage() == LoadStage.LOAD_STAGE_OPENING_FILE,
        "LoadModel progress was " + progress);
    expect(client.listModels().stream().anyMatch(m -> m.getName().equals(name)), "not listed");

    client.unloadModel(name);
    expectError(Status.Code.NOT_FOUND, "MODEL_NOT_FOUND", () -> client.getModel(name));
  }

  private void tokenizeRoundTrip() {
    String text = "Once upon a time, Lily found a red ball.";
    List<Integer> ids = client.tokenize(MODEL, text, false).getTokenIdsList();
    expect(!ids.isEmpty(), "Tokenize gave no tokens");
    String back = client.detokenize(MODEL, ids);
    expect(back.equals(text), "Detokenize gave \"" + back + "\"");
  }

  private void greedyGenerateMatchesLlama2c() throws Exception {
    StringBuilder text = new StringBuilder();
    GenerateResponse last = null;
    try (Generation generation = client.generate(greedy(40).build())) {
      while (generation.hasNext()) {
        last = generation.next();
        text.append(last.getText());
      }
    }
    expect(last != null && last.getFinishReason() == FinishReason.FINISH_REASON_LENGTH
        && last.getUsage().getCompletionTokens() == 40, "the stream ended with " + last);
    expectMatchesReference(text.toString());
  }

  private void cancelEndsTheStream() {
    String requestId = "java-cancel";
    GenerateResponse last;
    try (Generation generation = client.generate(endless().setRequestId(requestId).build())) {
      last = generation.next();
      client.cancel(requestId);
      while (generation.hasNext()) {
        last = generation.next();
      }
    }
    expect(last.getFinishReason() == FinishReason.FINISH_REASON_CANCELLED,
        "the stream ended with " + last);
    expect(last.getUsage().getCompletionTokens() < 2000, "the generation ran to its end");
  }

  private void closingStopsTheStream() throws Exception {
    String requestId = "java-close";
    Generation generation = client.generate(endless().setRequestId(requestId).build());
    try (Stream<String> texts = generation.texts()) {
      expect(texts.limit(3).count() == 3, "the stream ended early");
    }
    expect(!generation.hasNext(), "a closed stream goes on");
    // The server frees the request id once it has stopped the generation.
    for (int attempt = 0; ; attempt++) {
      try (Generation again = client.generate(greedy(8).setRequestId(requestId).build())) {
        expectMatchesReference(again.texts().collect(Collectors.joining()));
        return;
      } catch (TesseraException e) {
        if (e.code() != Status.Code.ALREADY_EXISTS || attempt == 100) {
          throw e;
        }
        Thread.sleep(50);
      }
    }
  }

  private void sessionDecodesAndIsReleased() throws Exception {
    PrefillRequest request = PrefillRequest.newBuilder()
        .setModel(MODEL)
        .setPrompt(Prompt.newBuilder().setText(Llama2cReference.PROMPT))
        .setSampling(SamplingParams.newBuilder().setTemperature(0))
        .build();
    Session session = client.prefill(request);
    try (session) {
      StringBuilder text = new StringBuilder(session.prefill().getText());
      DecodeResponse step = session.decode(5);
      expect(step.getTokensCount() == 5, "Decode gave " + step.getTokensCount() + " tokens");
      text.append(step.getText());
      expectMatchesReference(text.toString());
      List<Integer> appended = client.tokenize(MODEL, " The end.", false).getTokenIdsList();
      DecodeResponse afterAppend = session.decode(appended, 1);
      expect(afterAppend.getTokensCount() == 1, "Decode after appending gave "
          + afterAppend.getTokensCount() + " tokens");
    }
    expectError(Status.Code.NOT_FOUND, "SESSION_NOT_FOUND", () -> session.decode(1));
  }

  private void forkAndParentBothContinue() {
    GenerateRequest.Builder greedy =
        greedy(12).setStop(StopCriteria.newBuilder().setMaxTokens(12).setIgnoreEos(true));
    List<Integer> reference = tokenIds(generateAll(greedy.build()));
    PrefillRequest request = PrefillRequest.newBuilder()
        .setModel(MODEL)
        .setPrompt(greedy.getPrompt())
        .setSampling(greedy.getSampling())
        .setStop(greedy.getStop())
        .build();
    try (Session parent = client.prefill(request)) {
      List<Integer> began = new ArrayList<>(List.of(parent.prefill().getToken().getTokenId()));
      parent.decode(3).getTokensList().forEach(token -> began.add(token.getTokenId()));
      expect(began.equals(reference.subList(0, 4)), "the session began with " + began);
      try (Session fork = parent.fork()) {
        expect(!fork.id().equals(parent.id()) && !fork.requestId().isEmpty()
            && !fork.requestId().equals(parent.requestId()) && fork.prefill() == null,
            "the fork is " + fork.id() + " " + fork.requestId());
        for (Session session : List.of(fork, parent)) {
          DecodeResponse rest = session.decode(8);
          List<Integer> ids =
              rest.getTokensList().stream().map(GeneratedToken::getTokenId).toList();
          expect(ids.equals(reference.subList(4, 12))
              && rest.getFinishReason() == FinishReason.FINISH_REASON_LENGTH,
              "session " + session.id() + " went on with " + ids + ", want "
              + reference.subList(4, 12));
        }
        expectError(Status.Code.FAILED_PRECONDITION, "SESSION_FINISHED", fork::fork);
      }
    }
  }

  private void repeatedPromptIsCached() {
    GenerateRequest request = greedy(12)
        .setPrompt(Prompt.newBuilder().setText("The old lighthouse keeper climbed the winding "
            + "stairs every evening to light the lamp, and the ships far out at sea"))
        .build();
    List<Integer> first = tokenIds(generateAll(request));
    List<GenerateResponse> repeat = generateAll(request);
    List<Integer> second = tokenIds(repeat);
    Usage usage = repeat.get(repeat.size() - 1).getUsage();
    int cached = usage.getCachedPromptTokens();
    expect(usage.getPromptTokens() > 33 && cached > 0 && cached % 16 == 0
        && cached < usage.getPromptTokens(), "the repeat's usage is " + usage);
    expect(second.equals(first), "the repeat gave " + second + ", the first run " + first);
  }

  private void priorityChangesNoToken() throws Exception {
    try (Generation generation =
        client.generate(greedy(20).setPriority(Priority.PRIORITY_HIGH).build())) {
      expectMatchesReference(generation.texts().collect(Collectors.joining()));
    }
    PrefillRequest request = PrefillRequest.newBuilder()
        .setModel(MODEL)
        .setPrompt(Prompt.newBuilder().setText(Llama2cReference.PROMPT))
        .setSampling(SamplingParams.newBuilder().setTemperature(0))
        .setPriority(Priority.PRIORITY_LOW)
        .build();
    try (Session session = client.prefill(request)) {
      expectMatchesReference(session.prefill().getText() + session.decode(19).getText());
    }
  }

  private void unknownModelIsNotFound() {
    expectError(Status.Code.NOT_FOUND, "MODEL_NOT_FOUND", () -> client.getModel("no-such-model"));
    expectError(Status.Code.NOT_FOUND, "MODEL_NOT_FOUND", () -> {
      try (Generation generation = client.generate(greedy(1).setModel("no-such-model").build())) {
        generation.hasNext();
      }
    });
  }

  /** Greedy decoding of the reference prompt on the bundled model. */
  private static GenerateRequest.Builder greedy(int maxTokens) {
    return GenerateRequest.newBuilder()
        .setModel(MODEL)
        .setPrompt(Prompt.newBuilder().setText(Llama2cReference.PROMPT))
        .setSampling(SamplingParams.newBuilder().setTemperature(0))
        .setStop(StopCriteria.newBuilder().setMaxTokens(maxTokens));
  }

  /** Every response of a generation, read to its end. */
  private List<GenerateResponse> generateAll(GenerateRequest request) {
    List<GenerateResponse> responses = new ArrayList<>();
    try (Generation generation = client.generate(request)) {
      generation.forEachRemaining(responses::add);
    }
    return responses;
  }

  private static List<Integer> tokenIds(List<GenerateResponse> responses) {
    return responses.stream()
        .flatMap(response -> response.getTokensList().stream())
        .map(GeneratedToken::getTokenId)
        .toList();
  }

  /** A generation long enough to be stopped midway. */
  private static GenerateRequest.Builder endless() {
    return greedy(2000).setStop(StopCriteria.newBuilder().setMaxTokens(2000).setIgnoreEos(true));
  }

  private static void expectMatchesReference(String generated) throws Exception {
    String reference = Llama2cReference.continuation();
    expect(!generated.isEmpty() && reference.startsWith(generated),
        "generated \"" + generated + "\"\nllama2.c   \"" + reference + "\"");
  }

  private static void expectError(Status.Code code, String reason, Runnable call) {
    try {
      call.run();
    } catch (TesseraException e) {
      expect(e.code() == code && e.reason().equals(reason),
          "expected " + code + " " + reason + ", got " + e.code() + " " + e.reason());
      return;
    }
    throw new AssertionError("expected " + code + " " + reason + ", the call succeeded");
  }

  private static void expect(boolean condition, String message) {
    if (!condition) {
      throw new AssertionError(message);
    }
  }
}
