package tessera_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"tessera.dev/tessera"
)

// slowReader is a connection that takes in little unread data (gRPC-Go's smallest window, not
// grown), so a generation it stops reading backs up on the server and stays in flight.
func slowReader(t *testing.T) *tessera.Client {
	return dial(t, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
}

// endless starts a generation that runs until the context is full, its messages made large
// (20 alternatives per token) so that an unread stream fills the window within a few hundred
// tokens.
func endless(t *testing.T, client *tessera.Client, requestID string) *tessera.Stream {
	t.Helper()
	stream, err := client.Generate(testContext(t), model, tessera.TextPrompt("Once upon a time"),
		tessera.WithRequestID(requestID),
		tessera.WithSampling(&tessera.SamplingParams{TopLogprobs: 20}),
		tessera.WithStop(&tessera.StopCriteria{IgnoreEos: true}))
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if first.RequestId != requestID {
		t.Errorf("request id %q, want %q", first.RequestId, requestID)
	}
	return stream
}

// Cancel, from another connection, ends the stream with FinishCancelled.
func TestCancelEndsTheStreamAsCancelled(t *testing.T) {
	const id = "go-cancel"
	stream := endless(t, slowReader(t), id)
	client := dial(t)
	if err := client.Cancel(testContext(t), id); err != nil {
		t.Fatal(err)
	}
	last, err := readToEnd(stream)
	if err != nil {
		t.Fatal(err)
	}
	if last.FinishReason != tessera.FinishCancelled {
		t.Errorf("finished with %v, want FINISH_REASON_CANCELLED", last.FinishReason)
	}
	// Finished: a second Cancel finds nothing.
	if err := client.Cancel(testContext(t), id); status.Code(err) != codes.NotFound {
		t.Errorf("second Cancel: %v, want NotFound", err)
	}
}

// Closing a stream midway stops the generation on the server, which goes on serving.
func TestCloseStopsTheGeneration(t *testing.T) {
	const id = "go-close"
	stream := endless(t, slowReader(t), id)
	stream.Close()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after Close: %v, want Canceled", err)
	}

	// The id is taken until the server has stopped the generation; then a request may reuse it.
	client := dial(t)
	for giveUp := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stream, err := client.Generate(testContext(t), model, tessera.TextPrompt("Lily"),
			tessera.WithRequestID(id), tessera.WithMaxTokens(5))
		if err != nil {
			t.Fatal(err)
		}
		last, err := readToEnd(stream)
		var tesseraErr *tessera.Error
		if errors.As(err, &tesseraErr) && tesseraErr.Reason() == "DUPLICATE_REQUEST_ID" &&
			time.Now().Before(giveUp) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if last.Usage.GetCompletionTokens() != 5 {
			t.Errorf("the request after Close produced %d tokens, want 5", last.Usage.GetCompletionTokens())
		}
		return
	}
}
