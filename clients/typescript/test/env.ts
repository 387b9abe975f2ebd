// What tests/clients/with-server and ctest give the tests: the server, the model file, and the
// reference text.
import { readFileSync } from "node:fs";
import { join } from "node:path";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through tests/clients/with-server`);
  return value;
}

export const address = required("TESSERA_ADDRESS");
export const modelPath = required("TESSERA_MODEL_PATH");
/** The name with-server loads the model under. */
export const model = "stories";

/** llama2.c's greedy output for the model: the block under its `./run ... -t 0.0` command. */
export function llama2cGreedyText(): string {
  const doc = readFileSync(join(required("TESSERA_TEST_DATA_DIR"), "llama2c", "stories260K.md"),
    "utf8");
  const block = doc.slice(doc.indexOf("```\n", doc.indexOf("temperature 0.0")) + 4);
  const output = block.slice(block.indexOf("\n") + 1);  // after the `$ ./run ...` line
  return output.slice(0, output.indexOf("\n```"));
}
