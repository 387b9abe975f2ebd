// Loading, listing and unloading models, and errors mapped to TesseraError.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout } from "node:timers/promises";
import { LoadStage, type LoadProgress, status, TesseraClient, TesseraError } from "../src";
import { address, model, modelPath } from "./env";

const client = new TesseraClient(address);
after(() => client.close());

test("listModels sees the model the server loaded", async () => {
  const models = await client.listModels();
  assert.ok(models.some((info) => info.name === model && info.architecture === "llama"));
});

test("loadModel streams progress, then the model serves until unloadModel", async () => {
  const progress: LoadProgress[] = [];
  const info = await client.loadModel({ name: "stories-again", path: modelPath, device: "cpu" },
    { onProgress: (report) => progress.push(report) });
  assert.equal(info.name, "stories-again");
  assert.equal(info.device, "cpu");
  assert.equal(progress[0]?.stage, LoadStage.OPENING_FILE);
  assert.ok(progress.some((report) => report.stage === LoadStage.BUILDING_MODEL));
  assert.equal((await client.getModel("stories-again")).vocabSize, info.vocabSize);

  await client.unloadModel("stories-again");
  const names = (await client.listModels()).map((loaded) => loaded.name);
  assert.ok(!names.includes("stories-again"));
});

test("an unknown model fails with NOT_FOUND and the server's reason", async () => {
  await assert.rejects(client.getModel("no-such-model"), (error: unknown) => {
    assert.ok(error instanceof TesseraError);
    assert.equal(error.code, status.NOT_FOUND);
    assert.equal(error.reason, "MODEL_NOT_FOUND");
    return true;
  });
});

test("a stream's error is a TesseraError, also when it came before reading began", async () => {
  const generation = client.generate({ model: "no-such-model", prompt: "Once" });
  await setTimeout(100);
  await assert.rejects(generation.text(),
    (error: unknown) => error instanceof TesseraError && error.code === status.NOT_FOUND);
});

test("loading under a taken name fails with ALREADY_EXISTS", async () => {
  await assert.rejects(client.loadModel({ name: model, path: modelPath }),
    (error: unknown) => error instanceof TesseraError && error.code === status.ALREADY_EXISTS &&
      error.reason === "MODEL_ALREADY_LOADED");
});
