package tessera_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"tessera.dev/tessera"
)

// A stream's error arrives with its first Recv, as a *tessera.Error keeping the gRPC status.
func TestUnknownModelIsNotFound(t *testing.T) {
	stream, err := dial(t).Generate(testContext(t), "no-such-model", tessera.TextPrompt("Hello"))
	if err == nil {
		_, err = stream.Recv()
	}
	var tesseraErr *tessera.Error
	if !errors.As(err, &tesseraErr) {
		t.Fatalf("got %v (%T), want a *tessera.Error", err, err)
	}
	if tesseraErr.Code() != codes.NotFound || tesseraErr.Reason() != "MODEL_NOT_FOUND" {
		t.Errorf("got %v, want NotFound (MODEL_NOT_FOUND)", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("status.Code = %v, want NotFound", status.Code(err))
	}
}
