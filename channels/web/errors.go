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

	// A signed identity (identity.go) the session call refuses; nothing is
	// written and no token is given.
	ErrIdentity         = errors.New("invalid customer identity: the hash does not match the id and details, or they are malformed")
	ErrIdentityExpired  = errors.New("customer identity expired: the page must pass a freshly signed one")
	ErrIdentityRequired = errors.New("this chat is for signed-in customers only: a signed customer identity is required")
	ErrIdentityOff      = errors.New("customer identities are not enabled on this gateway (no identity secret)")
)
