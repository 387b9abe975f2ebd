package tessera_test

import "testing"

func TestTokenizeDetokenizeRoundTrip(t *testing.T) {
	client := dial(t)
	ctx := testContext(t)
	const text = "Once upon a time, Lily found a red ball."
	tokens, err := client.Tokenize(ctx, model, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens.TokenIds) == 0 || len(tokens.TokenTexts) != len(tokens.TokenIds) {
		t.Fatalf("Tokenize = %v, want ids with one vocabulary entry each", tokens)
	}
	back, err := client.Detokenize(ctx, model, tokens.TokenIds)
	if err != nil {
		t.Fatal(err)
	}
	if back != text {
		t.Errorf("Detokenize(Tokenize(%q)) = %q", text, back)
	}

	// A text prompt starts with the beginning-of-sequence token (1 in llama2.c's vocabulary).
	prompt, err := client.TokenizePrompt(ctx, model, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(prompt.TokenIds) != len(tokens.TokenIds)+1 || prompt.TokenIds[0] != 1 {
		t.Errorf("TokenizePrompt ids %v, want 1 then %v", prompt.TokenIds, tokens.TokenIds)
	}
}
