package tessera

import (
	"context"

	inferencev1 "tessera.dev/gen/go/tessera/inference/v1"
)

// Tokenize turns text into token ids (and their vocabulary entries) with a model's tokenizer.
func (c *Client) Tokenize(ctx context.Context, model, text string) (*TokenizeResponse, error) {
	return c.tokenize(ctx, &inferencev1.TokenizeRequest{Model: model, Text: text})
}

// TokenizePrompt tokenizes text as a text prompt is: with the model's beginning-of-sequence
// token first when it uses one.
func (c *Client) TokenizePrompt(ctx context.Context, model, text string) (*TokenizeResponse, error) {
	return c.tokenize(ctx, &inferencev1.TokenizeRequest{Model: model, Text: text, AddSpecialTokens: true})
}

func (c *Client) tokenize(ctx context.Context, req *inferencev1.TokenizeRequest) (*TokenizeResponse, error) {
	resp, err := c.rpc.Tokenize(ctx, req)
	if err != nil {
		return nil, fromRPC(err)
	}
	return resp, nil
}

// Detokenize turns token ids back into text, as at the start of a text (no leading space).
func (c *Client) Detokenize(ctx context.Context, model string, ids []int32) (string, error) {
	resp, err := c.rpc.Detokenize(ctx, &inferencev1.DetokenizeRequest{Model: model, TokenIds: ids})
	if err != nil {
		return "", fromRPC(err)
	}
	return resp.Text, nil
}
