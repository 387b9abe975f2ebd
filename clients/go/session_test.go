package tessera_test

import (
	"errors"
	"reflect"
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

// A greedy session's fork and the session itself each go on with the tokens a greedy Generate
// gives; a finished session does not fork.
func TestForkAndParentBothContinueAsTheSession(t *testing.T) {
	client := dial(t)
	ctx := testContext(t)
	prompt := tessera.TextPrompt("Once upon a time")
	greedy := []tessera.Option{tessera.WithTemperature(0),
		tessera.WithStop(&tessera.StopCriteria{MaxTokens: 12, IgnoreEos: true})}
	reference, _ := generate(t, client, prompt, greedy...)
	if len(reference) != 12 {
		t.Fatalf("Generate gave %d tokens, want 12", len(reference))
	}

	parent, err := client.Prefill(ctx, model, prompt, greedy...)
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Release(ctx)
	step, err := parent.Decode(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	began := append([]int32{parent.First.Token.TokenId}, tokenIDs(step.Tokens)...)
	if !reflect.DeepEqual(began, reference[:4]) {
		t.Fatalf("session began with %v, want %v", began, reference[:4])
	}
	fork, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer fork.Release(ctx)
	if fork.ID == parent.ID || fork.RequestID == "" || fork.RequestID == parent.RequestID ||
		fork.First != nil {
		t.Errorf("fork %+v of session %+v, want a new session and request id", fork, parent)
	}

	for _, session := range []*tessera.Session{fork, parent} {
		rest, err := session.Decode(ctx, 8)
		if err != nil {
			t.Fatal(err)
		}
		got := tokenIDs(rest.Tokens)
		if !reflect.DeepEqual(got, reference[4:]) || rest.FinishReason != tessera.FinishLength {
			t.Errorf("session %s went on with %v (%v), want %v (FINISH_REASON_LENGTH)",
				session.ID, got, rest.FinishReason, reference[4:])
		}
	}
	_, err = fork.Fork(ctx)
	var tesseraErr *tessera.Error
	if !errors.As(err, &tesseraErr) || tesseraErr.Code() != codes.FailedPrecondition ||
		tesseraErr.Reason() != "SESSION_FINISHED" {
		t.Errorf("Fork of a finished session: %v, want FailedPrecondition (SESSION_FINISHED)", err)
	}
}
