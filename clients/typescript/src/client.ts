// TesseraClient: the InferenceService's calls as promises, async iterators and sessions.
import { type ChannelCredentials, type ClientOptions, credentials } from "@grpc/grpc-js";
import {
  type GetServerInfoResponse, InferenceServiceClient, LoadModelRequest, type LoadProgress,
  type ModelInfo, type TokenizeResponse,
} from "../gen/tessera/inference/v1/inference";
import { type CallOptions, grpcOptions, streamed, unary } from "./calls";
import { Generation } from "./generation";
import { type GenerateInput, toRequest } from "./requests";
import { Session } from "./session";

export interface TesseraClientOptions {
  /** Default: an insecure (plaintext) channel. */
  credentials?: ChannelCredentials;
  /** grpc-js channel options, e.g. "grpc.max_receive_message_length". */
  channelOptions?: ClientOptions;
}

export interface LoadModelOptions extends CallOptions {
  /** Called with each progress report of the load, in order. */
  onProgress?: (progress: LoadProgress) => void;
}

export interface TokenizeOptions extends CallOptions {
  /** Add the model's beginning-of-sequence token, as a text prompt gets. */
  addSpecialTokens?: boolean;
}

export class TesseraClient implements Disposable {
  readonly #stub: InferenceServiceClient;

  /** Connects to a server at "host:port". */
  constructor(address: string, options: TesseraClientOptions = {}) {
    this.#stub = new InferenceServiceClient(address,
      options.credentials ?? credentials.createInsecure(), options.channelOptions);
  }

  /** Closes the channel; calls in flight are not affected. */
  close(): void {
    this.#stub.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Loads a model file on the server under a name; resolves once it is loaded. */
  async loadModel(
    request: Pick<LoadModelRequest, "name" | "path"> & Partial<LoadModelRequest>,
    options: LoadModelOptions = {},
  ): Promise<ModelInfo> {
    const call = this.#stub.loadModel(LoadModelRequest.fromPartial(request), grpcOptions(options));
    let model: ModelInfo | undefined;
    // Read to the end: the load has succeeded only once the call ends with OK.
    for await (const response of streamed(call, options.signal)) {
      if (response.progress) options.onProgress?.(response.progress);
      if (response.model) model = response.model;
    }
    if (!model) throw new Error("LoadModel ended without the model's info");
    return model;
  }

  /** Unloads a model once its running requests finish. */
  async unloadModel(name: string, options: CallOptions = {}): Promise<void> {
    await unary(this.#stub.unloadModel.bind(this.#stub), { name }, options);
  }

  /** The loaded models, sorted by name. */
  async listModels(options: CallOptions = {}): Promise<ModelInfo[]> {
    return (await unary(this.#stub.listModels.bind(this.#stub), {}, options)).models;
  }

  async getModel(name: string, options: CallOptions = {}): Promise<ModelInfo> {
    const response = await unary(this.#stub.getModel.bind(this.#stub), { name }, options);
    return response.model!;
  }

  async tokenize(model: string, text: string, options: TokenizeOptions = {}):
    Promise<TokenizeResponse> {
    const request = { model, text, addSpecialTokens: options.addSpecialTokens ?? false };
    return unary(this.#stub.tokenize.bind(this.#stub), request, options);
  }

  async detokenize(model: string, tokenIds: number[], options: CallOptions = {}):
    Promise<string> {
    const request = { model, tokenIds };
    return (await unary(this.#stub.detokenize.bind(this.#stub), request, options)).text;
  }

  /** Streams a completion: iterate the result for its text. */
  generate(input: GenerateInput, options: CallOptions = {}): Generation {
    const request = toRequest(input);
    const call = this.#stub.generate(request, grpcOptions(options));
    return new Generation(request.requestId, streamed(call, options.signal));
  }

  /** Stops the generation or session step with this request id, from any client. */
  async cancel(requestId: string, options: CallOptions = {}): Promise<void> {
    await unary(this.#stub.cancel.bind(this.#stub), { requestId }, options);
  }

  /** Opens a session holding the prompt's KV cache, with its first token sampled. */
  async prefill(input: GenerateInput, options: CallOptions = {}): Promise<Session> {
    const response = await unary(this.#stub.prefill.bind(this.#stub), toRequest(input), options);
    return new Session(this.#stub, response);
  }

  async getServerInfo(options: CallOptions = {}): Promise<GetServerInfoResponse> {
    return unary(this.#stub.getServerInfo.bind(this.#stub), {}, options);
  }
}
