package tessera

import inferencev1 "tessera.dev/gen/go/tessera/inference/v1"

// TextPrompt is text the server tokenizes, adding the model's beginning-of-sequence token.
func TextPrompt(text string) *Prompt {
	return &Prompt{Kind: &inferencev1.Prompt_Text{Text: text}}
}

// TokenPrompt is token ids used as given.
func TokenPrompt(ids ...int32) *Prompt {
	return &Prompt{Kind: &inferencev1.Prompt_TokenIds{TokenIds: &inferencev1.TokenIds{Ids: ids}}}
}

// ChatPrompt is a conversation rendered with the model's chat template.
func ChatPrompt(messages ...*ChatMessage) *Prompt {
	return &Prompt{Kind: &inferencev1.Prompt_Chat{Chat: &inferencev1.ChatMessages{Messages: messages}}}
}
