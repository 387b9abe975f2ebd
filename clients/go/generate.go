package tessera

import (
	"context"
	"io"

	"google.golang.org/grpc/status"
	inferencev1 "tessera.dev/gen/go/tessera/inference/v1"
)

// Stream is a Generate call in progress. Read it with Recv until io.EOF; Close it to stop the
// generation early. Recv is not safe to call from several goroutines at once; Close is.
type Stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	stream inferencev1.InferenceService_GenerateClient
	// io.EOF or the error that ended the stream, returned again by later Recv calls.
	end error
}

// Generate streams a completion of prompt by the model called model. Cancelling ctx, or
// closing the stream, stops the generation on the server.
func (c *Client) Generate(ctx context.Context, model string, prompt *Prompt, opts ...Option) (*Stream, error) {
	s := newSettings(opts)
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.rpc.Generate(ctx, &inferencev1.GenerateRequest{
		Model:     model,
		RequestId: s.requestID,
		Prompt:    prompt,
		Sampling:  s.sampling,
		Stop:      s.stop,
		Priority:  s.priority,
	})
	if err != nil {
		cancel()
		return nil, fromRPC(err)
	}
	return &Stream{ctx: ctx, cancel: cancel, stream: stream}, nil
}

// Recv returns what was produced since the previous call: tokens and whole UTF-8 text. The
// last message carries the finish reason and usage; the call after it returns io.EOF.
func (s *Stream) Recv() (*GenerateResponse, error) {
	// gRPC hands out messages it had buffered even after the call is cancelled; a cancelled
	// stream ends at once instead.
	if err := s.ctx.Err(); err != nil && s.end == nil {
		s.finish(status.FromContextError(err).Err())
	}
	if s.end != nil {
		return nil, s.end
	}
	resp, err := s.stream.Recv()
	if err != nil {
		s.finish(err)
		return nil, s.end
	}
	return resp, nil
}

func (s *Stream) finish(err error) {
	s.cancel() // frees the call
	if err == io.EOF {
		s.end = io.EOF
	} else {
		s.end = fromRPC(err)
	}
}

// Close stops the generation if it still runs: the server ends it as cancelled, and Recv fails
// with codes.Canceled. Closing a finished stream does nothing.
func (s *Stream) Close() { s.cancel() }
