// Tokenize and Detokenize undo each other.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { TesseraClient } from "../src";
import { address, model } from "./env";

const client = new TesseraClient(address);
after(() => client.close());

test("tokenize and detokenize round-trip", async () => {
  const text = "Once upon a time, Lily found a red ball.";
  const tokens = await client.tokenize(model, text);
  assert.ok(tokens.tokenIds.length > 0);
  assert.equal(tokens.tokenTexts.length, tokens.tokenIds.length);
  assert.equal(await client.detokenize(model, tokens.tokenIds), text);
});

test("addSpecialTokens puts the beginning-of-sequence token first", async () => {
  const plain = await client.tokenize(model, "Once");
  const withBos = await client.tokenize(model, "Once", { addSpecialTokens: true });
  assert.deepEqual(withBos.tokenIds.slice(1), plain.tokenIds);
});
