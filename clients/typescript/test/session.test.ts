// Prefill/Decode sessions: stepping through a greedy completion, forking it, and releasing the KV
// cache.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  FinishReason, type GenerateInput, type Session, status, TesseraClient, TesseraError,
} from "../src";
import { address, model } from "./env";

const client = new TesseraClient(address);
after(() => client.close());

const GREEDY: GenerateInput =
  { model, prompt: "Once upon a time", sampling: { temperature: 0 }, stop: { maxTokens: 10 } };

function isSessionNotFound(error: unknown): boolean {
  return error instanceof TesseraError && error.code === status.NOT_FOUND &&
    error.reason === "SESSION_NOT_FOUND";
}

test("a session decodes what generate streams, then is released", async () => {
  const session = await client.prefill(GREEDY);
  assert.ok(session.firstToken);
  const step = await session.decode({ numTokens: 4 });
  assert.equal(step.tokens.length, 4);
  const rest = await session.decode({ numTokens: 100 });
  assert.equal(rest.tokens.length, 5);
  assert.equal(session.finishReason, FinishReason.LENGTH);
  assert.equal(session.usage?.completionTokens, 10);

  const generated = await client.generate(GREEDY).text();
  assert.equal(session.firstText + step.text + rest.text, generated);

  await session.release();
  await assert.rejects(session.decode(), isSessionNotFound);
});

test("await using releases the session at the end of the block", async () => {
  let session: Session;
  {
    await using opened = await client.prefill(GREEDY);
    session = opened;
    await opened.decode();
  }
  await assert.rejects(session.decode(), isSessionNotFound);
});

test("a fork and its parent both go on as the session would", async () => {
  const input: GenerateInput = { ...GREEDY, stop: { maxTokens: 12, ignoreEos: true } };
  const reference = client.generate(input);
  await reference.text();

  await using parent = await client.prefill(input);
  const step = await parent.decode({ numTokens: 3 });
  assert.deepEqual([parent.firstToken?.tokenId, ...step.tokens.map((token) => token.tokenId)],
    reference.tokenIds.slice(0, 4));
  await using fork = await parent.fork({ requestId: "typescript-fork" });
  assert.notEqual(fork.id, parent.id);
  assert.equal(fork.requestId, "typescript-fork");
  assert.equal(fork.firstToken, undefined);
  assert.equal(fork.usage?.completionTokens, 4);

  for (const session of [fork, parent]) {
    const rest = await session.decode({ numTokens: 8 });
    assert.deepEqual(rest.tokens.map((token) => token.tokenId), reference.tokenIds.slice(4));
    assert.equal(session.finishReason, FinishReason.LENGTH);
  }
  await assert.rejects(fork.fork(), (error: unknown) => error instanceof TesseraError &&
    error.code === status.FAILED_PRECONDITION && error.reason === "SESSION_FINISHED");
});
