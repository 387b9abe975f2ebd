package tessera_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"tessera.dev/tessera"
)

// A greedy session advanced step by step says what a greedy Generate says, and is gone once
// released.
func TestSessionDecodesUntilReleased(t *testing.T) {
	client := dial(t)
	ctx := testContext(t)
	session, err := client.Prefill(ctx, model, tessera.TextPrompt("Once upon a time"),
		tessera.WithTemperature(0), tessera.WithMaxTokens(20))
	if err != nil {
		t.Fatal(err)
	}
	if session.ID == "" || session.First.Token == nil || session.First.FinishReason != tessera.FinishUnspecified {
		t.Fatalf("Prefill = %v, want a session going on after its first token", session.First)
	}
	text := session.First.Text
	tokens := 1
	for tokens < 20 {
		step, err := session.Decode(ctx, 4)
		if err != nil {
			t.Fatal(err)
		}
		text += step.Text
		tokens += len(step.Tokens)
		if step.FinishReason != tessera.FinishUnspecified {
			break
		}
	}
	if tokens != 20 {
		t.Errorf("session produced %d tokens, want 20", tokens)
	}
	reference := referenceContinuation(t)
	if text == "" || len(text) > len(reference) || text != reference[:len(text)] {
		t.Errorf("session text %q\nwant a prefix of llama2.c's %q", text, reference)
	}

	if err := session.Release(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = session.Decode(ctx, 1)
	var tesseraErr *tessera.Error
	if !errors.As(err, &tesseraErr) || tesseraErr.Code() != codes.NotFound ||
		tesseraErr.Reason() != "SESSION_NOT_FOUND" {
		t.Errorf("Decode after Release: %v, want NotFound (SESSION_NOT_FOUND)", err)
	}
}
