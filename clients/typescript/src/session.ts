// A prompt's KV cache held on the server between calls: decode() steps through it, release()
// frees it (or `await using` does, at the end of the block).
import type {
  DecodeResponse, FinishReason, GeneratedToken, InferenceServiceClient, PrefillResponse, Usage,
} from "../gen/tessera/inference/v1/inference";
import { type CallOptions, unary } from "./calls";

export interface DecodeOptions extends CallOptions {
  /** How many tokens to sample; default 1. */
  numTokens?: number;
  /** Tokens to add to the context after the last sampled one, before sampling. */
  appendTokenIds?: number[];
}

export class Session implements AsyncDisposable {
  readonly id: string;
  readonly requestId: string;
  /** The token Prefill sampled; undefined when the session ended before sampling one. */
  readonly firstToken: GeneratedToken | undefined;
  /** The text of the first token, held back as the stream's text is. */
  readonly firstText: string;
  /** Set once the session finishes; decoding further fails with FAILED_PRECONDITION. */
  finishReason: FinishReason;
  /** Token counts of the session so far. */
  usage: Usage | undefined;
  readonly #stub: InferenceServiceClient;
  #released = false;

  constructor(stub: InferenceServiceClient, prefill: PrefillResponse) {
    this.#stub = stub;
    this.id = prefill.sessionId;
    this.requestId = prefill.requestId;
    this.firstToken = prefill.token;
    this.firstText = prefill.text;
    this.finishReason = prefill.finishReason;
    this.usage = prefill.usage;
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
