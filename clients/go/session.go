package tessera

import (
	"context"

	inferencev1 "tessera.dev/gen/go/tessera/inference/v1"
)

// Session is a prompt's KV cache kept on the server, advanced a few tokens at a time. Release
// it when done; the server also drops it after its idle timeout.
type Session struct {
	client *Client
	// ID names the session on the server.
	ID string
	// RequestID names the session's Decode calls for Cancel.
	RequestID string
	// First is Prefill's answer: the first token and its text, and a finish reason when the
	// session ended at once. Nil for a session from Fork.
	First *PrefillResponse
}

// Prefill opens a session on prompt and samples its first token. The session keeps the
// options' sampling and stop settings for its Decode calls.
func (c *Client) Prefill(ctx context.Context, model string, prompt *Prompt, opts ...Option) (*Session, error) {
	s := newSettings(opts)
	resp, err := c.rpc.Prefill(ctx, &inferencev1.PrefillRequest{
		Model:     model,
		RequestId: s.requestID,
		Prompt:    prompt,
		Sampling:  s.sampling,
		Stop:      s.stop,
		Priority:  s.priority,
	})
	if err != nil {
		return nil, fromRPC(err)
	}
	return &Session{client: c, ID: resp.SessionId, RequestID: resp.RequestId, First: resp}, nil
}

// Decode appends appendTokenIDs to the context, then samples up to numTokens tokens (fewer
// when the session finishes first). One Decode at a time per session.
func (s *Session) Decode(ctx context.Context, numTokens int32, appendTokenIDs ...int32) (*DecodeResponse, error) {
	resp, err := s.client.rpc.Decode(ctx, &inferencev1.DecodeRequest{
		SessionId:      s.ID,
		AppendTokenIds: appendTokenIDs,
		NumTokens:      numTokens,
	})
	if err != nil {
		return nil, fromRPC(err)
	}
	return resp, nil
}

// Fork opens a new session that goes on from where this one stands, with the same context,
// sampling state and settings, sharing its KV cache. The server names its request.
func (s *Session) Fork(ctx context.Context) (*Session, error) {
	resp, err := s.client.rpc.ForkSession(ctx, &inferencev1.ForkSessionRequest{SessionId: s.ID})
	if err != nil {
		return nil, fromRPC(err)
	}
	return &Session{client: s.client, ID: resp.SessionId, RequestID: resp.RequestId}, nil
}

// Release frees the session and its KV cache.
func (s *Session) Release(ctx context.Context) error {
	_, err := s.client.rpc.ReleaseSession(ctx, &inferencev1.ReleaseSessionRequest{SessionId: s.ID})
	return fromRPC(err)
}
