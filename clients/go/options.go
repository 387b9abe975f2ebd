package tessera

import "google.golang.org/protobuf/proto"

// Option sets how Generate and Prefill choose and stop; later options win. Unset settings take
// the server's defaults (temperature 1, stop at end of sequence or a full context).
type Option func(*settings)

type settings struct {
	requestID string
	sampling  *SamplingParams
	stop      *StopCriteria
	priority  Priority
}

func newSettings(opts []Option) *settings {
	s := &settings{sampling: &SamplingParams{}, stop: &StopCriteria{}}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// WithRequestID names the call for Cancel; it must be unique among the running ones. Without it
// the server assigns one and returns it in its responses.
func WithRequestID(id string) Option {
	return func(s *settings) { s.requestID = id }
}

// WithSampling replaces all sampling settings, for those without an option of their own.
func WithSampling(params *SamplingParams) Option {
	return func(s *settings) { s.sampling = proto.Clone(params).(*SamplingParams) }
}

// WithTemperature divides the logits by t; 0 chooses the most likely token (greedy).
func WithTemperature(t float32) Option {
	return func(s *settings) { s.sampling.Temperature = &t }
}

// WithSeed makes sampling repeatable: the same seed and inputs give the same tokens.
func WithSeed(seed uint64) Option {
	return func(s *settings) { s.sampling.Seed = &seed }
}

// WithStop replaces all stop settings, for those without an option of their own.
func WithStop(criteria *StopCriteria) Option {
	return func(s *settings) { s.stop = proto.Clone(criteria).(*StopCriteria) }
}

// WithMaxTokens stops after n generated tokens.
func WithMaxTokens(n int32) Option {
	return func(s *settings) { s.stop.MaxTokens = n }
}

// WithPriority sets which requests the model serves first when they compete for its KV cache:
// PriorityHigh before the others, PriorityLow after them.
func WithPriority(p Priority) Option {
	return func(s *settings) { s.priority = p }
}
