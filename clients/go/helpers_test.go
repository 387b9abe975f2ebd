package tessera_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"tessera.dev/tessera"
)

// The model tests/clients/with-server loads before the tests run.
const model = "stories"

// dial connects to the server tests/clients/with-server started.
func dial(t *testing.T, opts ...grpc.DialOption) *tessera.Client {
	t.Helper()
	address := os.Getenv("TESSERA_ADDRESS")
	if address == "" {
		t.Fatal("TESSERA_ADDRESS is unset: run the tests through tests/clients/with-server")
	}
	client, err := tessera.Dial(context.Background(), address, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// modelPath is the server's path of the model file, to load it again under another name.
func modelPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TESSERA_MODEL_PATH")
	if path == "" {
		t.Fatal("TESSERA_MODEL_PATH is unset: run the tests through tests/clients/with-server")
	}
	return path
}

// testContext bounds a test's calls, so a server that stops answering fails the test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readToEnd reads a stream to its end and returns its last message, which carries the finish
// reason and usage.
func readToEnd(stream *tessera.Stream) (*tessera.GenerateResponse, error) {
	var last *tessera.GenerateResponse
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		last = resp
	}
}

// generate runs a Generate to its end and returns its token ids and its last message, which
// carries the finish reason and usage.
func generate(t *testing.T, client *tessera.Client, prompt *tessera.Prompt,
	opts ...tessera.Option) ([]int32, *tessera.GenerateResponse) {
	t.Helper()
	stream, err := client.Generate(testContext(t), model, prompt, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	var last *tessera.GenerateResponse
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return ids, last
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tokenIDs(resp.Tokens)...)
		last = resp
	}
}

// tokenIDs are the ids of tokens, in order.
func tokenIDs(tokens []*tessera.GeneratedToken) []int32 {
	ids := make([]int32, len(tokens))
	for i, token := range tokens {
		ids[i] = token.TokenId
	}
	return ids
}
