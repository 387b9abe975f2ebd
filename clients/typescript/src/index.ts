// Tessera's TypeScript client: TesseraClient and the contract's types it takes and returns.
export { status } from "@grpc/grpc-js";
export type { CallOptions } from "./calls";
export {
  type LoadModelOptions, type TokenizeOptions, TesseraClient, type TesseraClientOptions,
} from "./client";
export { TesseraError } from "./errors";
export { Generation } from "./generation";
export type { GenerateInput, PromptInput } from "./requests";
export { type DecodeOptions, type ForkOptions, Session } from "./session";
export {
  type ChatMessage, type DecodeResponse, type DeviceInfo, FinishReason, type GeneratedToken,
  type GetServerInfoResponse, type LoadProgress, LoadStage, type ModelInfo, Priority,
  type SamplingParams, type StopCriteria, type TokenizeResponse, type TokenLogprob, type Usage,
} from "../gen/tessera/inference/v1/inference";
