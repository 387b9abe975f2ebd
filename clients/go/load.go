package tessera

import (
	"context"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	inferencev1 "tessera.dev/gen/go/tessera/inference/v1"
)

// LoadOption sets where and how LoadModel loads a model.
type LoadOption func(*loadCall)

type loadCall struct {
	request  *inferencev1.LoadModelRequest
	progress func(*LoadProgress)
}

// OnDevice runs the model on "cpu", "cuda" or "cuda:N". Default: the first GPU, else the CPU.
func OnDevice(device string) LoadOption {
	return func(l *loadCall) { l.request.Device = device }
}

// WithKVCacheCapacity sizes the KV cache shared by the model's sessions, in tokens (rounded up
// to 16-token blocks). Default: room for eight full-context sequences, or what 90% of the
// device's free memory holds if less.
func WithKVCacheCapacity(tokens int64) LoadOption {
	return func(l *loadCall) { l.request.KvCacheCapacityTokens = tokens }
}

// WithProgress calls report with each progress message of the load, in order.
func WithProgress(report func(*LoadProgress)) LoadOption {
	return func(l *loadCall) { l.progress = report }
}

// LoadModel loads the model file at path (on the server) under name and returns its info once
// it is loaded. Cancelling ctx stops the load and leaves nothing loaded.
func (c *Client) LoadModel(ctx context.Context, name, path string, opts ...LoadOption) (*ModelInfo, error) {
	call := &loadCall{request: &inferencev1.LoadModelRequest{Name: name, Path: path}}
	for _, opt := range opts {
		opt(call)
	}
	stream, err := c.rpc.LoadModel(ctx, call.request)
	if err != nil {
		return nil, fromRPC(err)
	}
	// The model's info comes last; reading on to the end of the stream frees the call.
	var model *ModelInfo
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			if model == nil {
				return nil, fromRPC(status.Error(codes.Internal, "load ended without the model's info"))
			}
			return model, nil
		}
		if err != nil {
			return nil, fromRPC(err)
		}
		switch event := resp.Event.(type) {
		case *inferencev1.LoadModelResponse_Progress:
			if call.progress != nil {
				call.progress(event.Progress)
			}
		case *inferencev1.LoadModelResponse_Model:
			model = event.Model
		}
	}
}
