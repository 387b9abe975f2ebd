package tessera

import inferencev1 "tessera.dev/gen/go/tessera/inference/v1"

// The contract's messages under this package's names, so callers need not import the
// generated package for the common cases.
type (
	ModelInfo        = inferencev1.ModelInfo
	LoadProgress     = inferencev1.LoadProgress
	ServerInfo       = inferencev1.GetServerInfoResponse
	Prompt           = inferencev1.Prompt
	ChatMessage      = inferencev1.ChatMessage
	SamplingParams   = inferencev1.SamplingParams
	StopCriteria     = inferencev1.StopCriteria
	TokenizeResponse = inferencev1.TokenizeResponse
	GenerateResponse = inferencev1.GenerateResponse
	GeneratedToken   = inferencev1.GeneratedToken
	PrefillResponse  = inferencev1.PrefillResponse
	DecodeResponse   = inferencev1.DecodeResponse
	Usage            = inferencev1.Usage
	FinishReason     = inferencev1.FinishReason
	Priority         = inferencev1.Priority
)

// Why a generation or session ended; FinishUnspecified while it goes on.
const (
	FinishUnspecified   = inferencev1.FinishReason_FINISH_REASON_UNSPECIFIED
	FinishLength        = inferencev1.FinishReason_FINISH_REASON_LENGTH
	FinishStop          = inferencev1.FinishReason_FINISH_REASON_STOP
	FinishEndOfSequence = inferencev1.FinishReason_FINISH_REASON_END_OF_SEQUENCE
	FinishCancelled     = inferencev1.FinishReason_FINISH_REASON_CANCELLED
)

// Which requests a model serves first when they compete for its KV cache; unset, PriorityNormal.
const (
	PriorityLow    = inferencev1.Priority_PRIORITY_LOW
	PriorityNormal = inferencev1.Priority_PRIORITY_NORMAL
	PriorityHigh   = inferencev1.Priority_PRIORITY_HIGH
)
