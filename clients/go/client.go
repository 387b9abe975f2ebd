// Package tessera is a client for Tessera's inference server (the tessera.inference.v1
// contract): load models, tokenize, stream completions and step through KV-cache sessions.
// Every method takes a context first; cancelling it cancels the call. Errors are *Error, which
// keeps the gRPC status.
package tessera

import (
	"context"

	"google.golang.org/grpc"
	inferencev1 "tessera.dev/gen/go/tessera/inference/v1"
)

// Client is a connection to one server, safe for concurrent use.
type Client struct {
	conn *grpc.ClientConn
	rpc  inferencev1.InferenceServiceClient
}

// Dial connects to a server at address ("host:port"). The connection is plaintext, as the
// server listens, unless opts say otherwise; it is made lazily unless opts include
// grpc.WithBlock, which waits for it under ctx.
func Dial(ctx context.Context, address string, opts ...grpc.DialOption) (*Client, error) {
	opts = append([]grpc.DialOption{grpc.WithInsecure()}, opts...)
	conn, err := grpc.DialContext(ctx, address, opts...)
	if err != nil {
		return nil, fromRPC(err)
	}
	return &Client{conn: conn, rpc: inferencev1.NewInferenceServiceClient(conn)}, nil
}

// Close closes the connection; calls in flight fail with codes.Canceled.
func (c *Client) Close() error { return c.conn.Close() }

// ListModels returns the loaded models, sorted by name.
func (c *Client) ListModels(ctx context.Context) ([]*ModelInfo, error) {
	resp, err := c.rpc.ListModels(ctx, &inferencev1.ListModelsRequest{})
	if err != nil {
		return nil, fromRPC(err)
	}
	return resp.Models, nil
}

// GetModel describes the loaded model called name.
func (c *Client) GetModel(ctx context.Context, name string) (*ModelInfo, error) {
	resp, err := c.rpc.GetModel(ctx, &inferencev1.GetModelRequest{Name: name})
	if err != nil {
		return nil, fromRPC(err)
	}
	return resp.Model, nil
}

// UnloadModel unloads a model once its in-flight requests finish; its sessions are released.
func (c *Client) UnloadModel(ctx context.Context, name string) error {
	_, err := c.rpc.UnloadModel(ctx, &inferencev1.UnloadModelRequest{Name: name})
	return fromRPC(err)
}

// ServerInfo describes the server: version, build, devices and loaded models.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	resp, err := c.rpc.GetServerInfo(ctx, &inferencev1.GetServerInfoRequest{})
	if err != nil {
		return nil, fromRPC(err)
	}
	return resp, nil
}

// Cancel stops the running Generate, Prefill or Decode with this request id, from any
// connection; it ends with FinishCancelled.
func (c *Client) Cancel(ctx context.Context, requestID string) error {
	_, err := c.rpc.Cancel(ctx, &inferencev1.CancelRequest{RequestId: requestID})
	return fromRPC(err)
}
