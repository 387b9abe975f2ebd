package tessera_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// referenceContinuation is what llama2.c's run.c prints after "Once upon a time" for this
// model at temperature 0: the text block under its `./run ... -t 0.0` command.
func referenceContinuation(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(os.Getenv("TESSERA_TEST_DATA_DIR"), "llama2c", "stories260K.md"))
	if err != nil {
		t.Fatalf("reading the reference (is TESSERA_TEST_DATA_DIR set?): %v", err)
	}
	_, after, found := strings.Cut(string(doc), "temperature 0.0")
	if !found {
		t.Fatal("no greedy sample in the reference")
	}
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "\n```")
	_, output, _ := strings.Cut(block, "\n") // the first line is the command
	const prompt = "Once upon a time"
	if !strings.HasPrefix(output, prompt) {
		t.Fatalf("reference output does not start with %q: %.40q", prompt, output)
	}
	return strings.TrimPrefix(output, prompt)
}
