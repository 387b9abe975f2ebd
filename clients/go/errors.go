package tessera

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a call the server (or the connection) failed. It keeps the gRPC status, so
// status.FromError and status.Code work on it, and the stable reason the server attaches.
type Error struct {
	status *status.Status
}

// fromRPC turns an error from a generated stub into an *Error; nil stays nil.
func fromRPC(err error) error {
	if err == nil {
		return nil
	}
	return &Error{status: status.Convert(err)}
}

// Code is the gRPC status code, e.g. codes.NotFound for an unknown model.
func (e *Error) Code() codes.Code { return e.status.Code() }

// Message is the server's human-readable description.
func (e *Error) Message() string { return e.status.Message() }

// Reason is the google.rpc.ErrorInfo reason the server attaches to every error, e.g.
// "MODEL_NOT_FOUND"; empty for errors raised on the client side, such as a cancelled context.
func (e *Error) Reason() string {
	for _, detail := range e.status.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

// GRPCStatus lets status.FromError and status.Code see the status.
func (e *Error) GRPCStatus() *status.Status { return e.status }

func (e *Error) Error() string {
	if reason := e.Reason(); reason != "" {
		return fmt.Sprintf("tessera: %s (%s): %s", e.Code(), reason, e.Message())
	}
	return fmt.Sprintf("tessera: %s: %s", e.Code(), e.Message())
}
