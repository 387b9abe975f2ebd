// Streamed generation: greedy text as llama2.c prints it, a repeated prompt's cached prefix,
// priorities, and three ways to stop a stream early.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { FinishReason, type GenerateInput, Priority, TesseraClient } from "../src";
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

test("a repeated prompt reports cached tokens and gives the same tokens", async () => {
  const input: GenerateInput = {
    model,
    prompt: "The old lighthouse keeper climbed the winding stairs every evening to light the " +
      "lamp, and the ships far out at sea",
    sampling: { temperature: 0 },
    stop: { maxTokens: 12 },
  };
  const first = client.generate(input);
  await first.text();
  const second = client.generate(input);
  await second.text();
  const usage = second.usage;
  assert.ok(usage && usage.promptTokens > 33, `usage ${JSON.stringify(usage)}`);
  const cached = usage.cachedPromptTokens;
  assert.ok(cached > 0 && cached % 16 === 0 && cached < usage.promptTokens,
    `${cached} of ${usage.promptTokens} prompt tokens cached`);
  assert.deepEqual(second.tokenIds, first.tokenIds);
});

test("priority changes no token", async () => {
  const input: GenerateInput =
    { model, prompt: PROMPT, sampling: { temperature: 0 }, stop: { maxTokens: 20 } };
  const reference = llama2cGreedyText().slice(PROMPT.length);
  const text = await client.generate({ ...input, priority: Priority.HIGH }).text();
  assert.equal(text, reference.slice(0, text.length));
  await using session = await client.prefill({ ...input, priority: Priority.LOW });
  const sessionText = session.firstText + (await session.decode({ numTokens: 19 })).text;
  assert.equal(sessionText, reference.slice(0, sessionText.length));
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
