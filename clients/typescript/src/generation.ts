// A streamed completion. Iterating it yields the text as it is produced; the tokens, finish
// reason and usage fill in as the stream goes.
import {
  FinishReason, type GeneratedToken, type GenerateResponse, type Usage,
} from "../gen/tessera/inference/v1/inference";

export class Generation implements AsyncIterable<string> {
  /** Set from the first response (or the request, when it named one). */
  requestId: string;
  /** Every token received so far, with its bytes and log probabilities when asked for. */
  readonly tokens: GeneratedToken[] = [];
  /** UNSPECIFIED until the last response. */
  finishReason = FinishReason.UNSPECIFIED;
  /** Token counts of the whole generation, from the last response. */
  usage: Usage | undefined;
  readonly #responses: AsyncIterable<GenerateResponse>;

  constructor(requestId: string, responses: AsyncIterable<GenerateResponse>) {
    this.requestId = requestId;
    this.#responses = responses;
  }

  get tokenIds(): number[] {
    return this.tokens.map((token) => token.tokenId);
  }

  /** Yields each text delta. The stream is read once: leaving the loop early cancels it. */
  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    for await (const response of this.#responses) {
      this.requestId = response.requestId;
      this.tokens.push(...response.tokens);
      if (response.finishReason !== FinishReason.UNSPECIFIED) {
        this.finishReason = response.finishReason;
        this.usage = response.usage;
      }
      if (response.text) yield response.text;
    }
  }

  /** Reads the rest of the stream and returns its text. */
  async text(): Promise<string> {
    let text = "";
    for await (const delta of this) text += delta;
    return text;
  }
}
