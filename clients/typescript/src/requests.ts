// What generate() and prefill() take: the contract's request with the prompt given plainly.
import {
  type ChatMessage, GenerateRequest, type Priority, type Prompt, type SamplingParams,
  type StopCriteria,
} from "../gen/tessera/inference/v1/inference";

/** Text, token ids, or a conversation for the model's chat template. */
export type PromptInput = string | number[] | ChatMessage[];

export interface GenerateInput {
  /** The name of a loaded model. */
  model: string;
  prompt: PromptInput;
  /** Identifies the request for cancel(); unset: the server assigns one. */
  requestId?: string;
  /** Unset fields take the contract's defaults (temperature 1). */
  sampling?: Partial<SamplingParams>;
  /** Unset: at end of sequence or when the context is full. */
  stop?: Partial<StopCriteria>;
  /** Which requests the model serves first when they compete for its KV cache; unset: NORMAL. */
  priority?: Priority;
}

function toPrompt(prompt: PromptInput): Partial<Prompt> {
  if (typeof prompt === "string") return { text: prompt };
  if (prompt.every((item) => typeof item === "number")) {
    return { tokenIds: { ids: prompt as number[] } };
  }
  return { chat: { messages: prompt as ChatMessage[] } };
}

/** The request; a PrefillRequest has the same fields. */
export function toRequest(input: GenerateInput): GenerateRequest {
  return GenerateRequest.fromPartial({ ...input, prompt: toPrompt(input.prompt) });
}
