// Streamed generation: greedy text as llama2.c prints it, and three ways to stop a stream early.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { FinishReason, type GenerateInput, TesseraClient } from "../src";
import { address, llama2cGreedyText, model } from "./env";

const client = new TesseraClient(address);
after(() => client.close());

const PROMPT = "Once upon a time";
// Long enough that the stream is still going when the test stops it.
const LONG: GenerateInput = { model, prompt: PROMPT, stop: { maxTokens: 2000, ignoreEos: true } };

async function assertServerStillGenerates(): Promise<void> {
  const generation = client.generate({ model, prompt: PROMPT, stop: { maxTokens: 5 } });
  await generation.text();
  assert.equal(generation.tokens.length, 5);
}

test("greedy text matches llama2.c's", async () => {
  const generation = client.generate(
    { model, prompt: PROMPT, sampling: { temperature: 0 }, stop: { maxTokens: 40 } });
  let text = "";
  for await (const delta of generation) text += delta;

  const reference = llama2cGreedyText();
  assert.ok(reference.startsWith(PROMPT));
  assert.ok(text.length > 100, `only ${JSON.stringify(text)}`);
  assert.equal(text, reference.slice(PROMPT.length, PROMPT.length + text.length));
  assert.equal(generation.tokens.length, 40);
  assert.equal(generation.finishReason, FinishReason.LENGTH);
  assert.equal(generation.usage?.completionTokens, 40);
  assert.notEqual(generation.requestId, "");
});

test("aborting the signal cancels the stream midway", async () => {
  const controller = new AbortController();
  const generation = client.generate(LONG, { signal: controller.signal });
  await assert.rejects(async () => {
    for await (const _ of generation) controller.abort();
  }, { name: "AbortError" });
  assert.ok(generation.tokens.length < 2000);
  assert.equal(generation.finishReason, FinishReason.UNSPECIFIED);
  await assertServerStillGenerates();
});

test("leaving the loop early cancels the stream", async () => {
  const generation = client.generate(LONG);
  for await (const _ of generation) break;
  assert.ok(generation.tokens.length < 2000);
  await assertServerStillGenerates();
});

test("cancel() by request id ends the stream with FINISH_REASON_CANCELLED", async () => {
  const generation = client.generate({ ...LONG, requestId: "typescript-cancel" });
  let cancelled = false;
  for await (const _ of generation) {
    if (!cancelled) await client.cancel(generation.requestId);
    cancelled = true;
  }
  assert.equal(generation.finishReason, FinishReason.CANCELLED);
  assert.ok(generation.tokens.length < 2000);
  await assertServerStillGenerates();
});
