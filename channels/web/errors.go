package web

import "errors"

// Errors a request can fail with; each maps to one HTTP status and a code the
// page understands (see status).
var (
	ErrNoVisitor   = errors.New("missing or invalid visitor token")
	ErrEmpty       = errors.New("empty message")
	ErrTooLong     = errors.New("message too long")
	ErrRateLimited = errors.New("too many messages")
	ErrBadRequest  = errors.New("malformed request")
	ErrBodyTooBig  = errors.New("request body too large")
	ErrUnavailable = errors.New("message could not be stored")
)
