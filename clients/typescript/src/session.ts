// A prompt's KV cache held on the server between calls: decode() steps through it, fork() opens
// another session going on from it, release() frees it (or `await using` does, at the end of the
// block).
import {
  type DecodeResponse, FinishReason, type ForkSessionResponse, type GeneratedToken,
  type InferenceServiceClient, type PrefillResponse, type Usage,
} from "../gen/tessera/inference/v1/inference";
import { type CallOptions, unary } from "./calls";

export interface DecodeOptions extends CallOptions {
  /** How many tokens to sample; default 1. */
  numTokens?: number;
  /** Tokens to add to the context after the last sampled one, before sampling. */
  appendTokenIds?: number[];
}

export interface ForkOptions extends CallOptions {
  /** Identifies the new session's decode() calls for cancel(); unset: the server assigns one. */
  requestId?: string;
}

export class Session implements AsyncDisposable {
  readonly id: string;
  readonly requestId: string;
  /**
   * The token Prefill sampled; undefined when the session ended before sampling one, or came
   * from fork().
   */
  readonly firstToken: GeneratedToken | undefined;
  /** The text of the first token, held back as the stream's text is. */
  readonly firstText: string;
  /** Set once the session finishes; decoding further fails with FAILED_PRECONDITION. */
  finishReason: FinishReason;
  /** Token counts of the session so far. */
  usage: Usage | undefined;
  readonly #stub: InferenceServiceClient;
  #released = false;

  /** From Prefill's response, or ForkSession's. */
  constructor(stub: InferenceServiceClient,
    opened: ForkSessionResponse & Partial<PrefillResponse>) {
    this.#stub = stub;
    this.id = opened.sessionId;
    this.requestId = opened.requestId;
    this.firstToken = opened.token;
    this.firstText = opened.text ?? "";
    this.finishReason = opened.finishReason ?? FinishReason.UNSPECIFIED;
    this.usage = opened.usage;
  }

  /** Samples the next tokens. */
  async decode(options: DecodeOptions = {}): Promise<DecodeResponse> {
    const request = {
      sessionId: this.id,
      numTokens: options.numTokens ?? 0,
      appendTokenIds: options.appendTokenIds ?? [],
    };
    const response = await unary(this.#stub.decode.bind(this.#stub), request, options);
    this.finishReason = response.finishReason;
    this.usage = response.usage;
    return response;
  }

  /**
   * Opens a new session that goes on from where this one stands, with the same context,
   * sampling state and settings, sharing its KV cache.
   */
  async fork(options: ForkOptions = {}): Promise<Session> {
    const request = { sessionId: this.id, requestId: options.requestId ?? "" };
    const response = await unary(this.#stub.forkSession.bind(this.#stub), request, options);
    return new Session(this.#stub, response);
  }

  /** Frees the session's KV cache on the server; later calls do nothing. */
  async release(options: CallOptions = {}): Promise<void> {
    if (this.#released) return;
    await unary(this.#stub.releaseSession.bind(this.#stub), { sessionId: this.id }, options);
    this.#released = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
