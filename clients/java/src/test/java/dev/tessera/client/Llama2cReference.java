package dev.tessera.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The greedy continuation llama2.c's run.c prints for the stories260K model. */
final class Llama2cReference {
  static final String PROMPT = "Once upon a time";

  private Llama2cReference() {}

  /**
   * The text after PROMPT in the first code block after "temperature 0.0" in
   * $TESSERA_TEST_DATA_DIR/llama2c/stories260K.md; the block's first line is the command.
   */
  static String continuation() throws IOException {
    Path doc = Path.of(System.getenv("TESSERA_TEST_DATA_DIR"), "llama2c", "stories260K.md");
    String text = Files.readString(doc, StandardCharsets.UTF_8);
    int block = text.indexOf("```", text.indexOf("temperature 0.0"));
    int start = text.indexOf('\n', block) + 1;
    String[] lines = text.substring(start, text.indexOf("\n```", start)).split("\n", 2);
    if (!lines[0].startsWith("$ ./run") || !lines[1].startsWith(PROMPT)) {
      throw new IOException(doc + " has no `./run` block under \"temperature 0.0\"");
    }
    return lines[1].substring(PROMPT.length());
  }
}
