package tessera_test

import (
	"io"
	"reflect"
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

// A prompt run before shares the KV cache of its whole 16-token blocks with the repeat, which
// gives the same tokens.
func TestRepeatedPromptReportsCachedTokens(t *testing.T) {
	client := dial(t)
	prompt := tessera.TextPrompt("The old lighthouse keeper climbed the winding stairs every " +
		"evening to light the lamp, and the ships far out at sea")
	opts := []tessera.Option{tessera.WithTemperature(0), tessera.WithMaxTokens(12)}
	first, _ := generate(t, client, prompt, opts...)
	second, last := generate(t, client, prompt, opts...)
	usage := last.Usage
	cached := usage.CachedPromptTokens
	if usage.PromptTokens <= 33 || cached <= 0 || cached%16 != 0 || cached >= usage.PromptTokens {
		t.Errorf("repeat's usage %v, want some whole 16-token blocks of its prompt cached", usage)
	}
	if !reflect.DeepEqual(second, first) {
		t.Errorf("repeat gave %v, first run %v", second, first)
	}
}

// Priority orders requests; it changes no token.
func TestPriorityKeepsTheGreedyText(t *testing.T) {
	client := dial(t)
	ctx := testContext(t)
	prompt := tessera.TextPrompt("Once upon a time")
	reference := referenceContinuation(t)
	stream, err := client.Generate(ctx, model, prompt, tessera.WithTemperature(0),
		tessera.WithMaxTokens(20), tessera.WithPriority(tessera.PriorityHigh))
	if err != nil {
		t.Fatal(err)
	}
	var text string
	for resp, err := stream.Recv(); err != io.EOF; resp, err = stream.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		text += resp.Text
	}
	if text == "" || len(text) > len(reference) || text != reference[:len(text)] {
		t.Errorf("high priority generated %q\nwant a prefix of llama2.c's %q", text, reference)
	}

	session, err := client.Prefill(ctx, model, prompt, tessera.WithTemperature(0),
		tessera.WithMaxTokens(20), tessera.WithPriority(tessera.PriorityLow))
	if err != nil {
		t.Fatal(err)
	}
	defer session.Release(ctx)
	step, err := session.Decode(ctx, 19)
	if err != nil {
		t.Fatal(err)
	}
	text = session.First.Text + step.Text
	if len(text) > len(reference) || text != reference[:len(text)] {
		t.Errorf("low priority session gave %q\nwant a prefix of llama2.c's %q", text, reference)
	}
}
