package tessera_test

import (
	"io"
	"testing"

	"tessera.dev/tessera"
)

// Greedy decoding reproduces llama2.c's output for the model, streamed in several messages.
func TestGreedyGenerateMatchesLlama2c(t *testing.T) {
	client := dial(t)
	stream, err := client.Generate(testContext(t), model, tessera.TextPrompt("Once upon a time"),
		tessera.WithTemperature(0), tessera.WithMaxTokens(40))
	if err != nil {
		t.Fatal(err)
	}
	var text string
	var messages []*tessera.GenerateResponse
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text += resp.Text
		messages = append(messages, resp)
	}
	if len(messages) < 2 {
		t.Fatalf("got %d messages, want the text streamed in several", len(messages))
	}
	last := messages[len(messages)-1]
	if last.FinishReason != tessera.FinishLength || last.Usage.GetCompletionTokens() != 40 {
		t.Errorf("finished with %v after %d tokens, want FINISH_REASON_LENGTH after 40",
			last.FinishReason, last.Usage.GetCompletionTokens())
	}
	reference := referenceContinuation(t)
	if text == "" || len(text) > len(reference) || text != reference[:len(text)] {
		t.Errorf("generated %q\nwant a prefix of llama2.c's %q", text, reference)
	}
}
