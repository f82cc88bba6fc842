package console

import (
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/handoff"
)

// Errors of the console. Each reaches the page as a JSON error with a stable
// code (see codeOf).
var (
	// ErrConfig: the configuration is invalid.
	ErrConfig = errors.New("invalid console config")
	// ErrUnauthenticated: no valid session (signed out or expired).
	ErrUnauthenticated = errors.New("not signed in")
	// ErrBadCredentials: unknown agent or wrong password.
	ErrBadCredentials = errors.New("wrong agent id or password")
	// ErrRateLimited: too many failed sign-ins from this address, or for
	// this agent from this address; try again later (Retry-After).
	ErrRateLimited = errors.New("too many failed sign-ins")
	// ErrCSRF: a state-changing call without the session's CSRF token.
	ErrCSRF = errors.New("missing or wrong CSRF token")
	// ErrOrigin: a state-changing call from another origin.
	ErrOrigin = errors.New("cross-origin request refused")
	// ErrForbidden: the call needs the supervisor role.
	ErrForbidden = errors.New("supervisors only")
	// ErrEditorsOnly: the call needs the editor or supervisor role.
	ErrEditorsOnly = errors.New("editors and supervisors only")
	// ErrNotHolder: the agent does not hold the conversation.
	ErrNotHolder = errors.New("you do not hold this conversation")
	// ErrBadRequest: a malformed request.
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound: no such conversation.
	ErrNotFound = errors.New("not found")
)

// lockedError is ErrRateLimited with the time left on the lock, which the
// answer's Retry-After header gives.
type lockedError struct{ wait time.Duration }

func (e *lockedError) Error() string { return ErrRateLimited.Error() }
func (e *lockedError) Unwrap() error { return ErrRateLimited }

// retryAfter is the Retry-After value of a lock: whole seconds, rounded up.
func (e *lockedError) retryAfter() int64 {
	return int64((e.wait + time.Second - 1) / time.Second)
}

// codeOf maps an error to its HTTP status and the stable code the page and
// API clients switch on. It is the only place queue errors are translated.
func codeOf(err error) (int, string) {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, ErrBadCredentials):
		return http.StatusUnauthorized, "bad_credentials"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	case errors.Is(err, ErrCSRF):
		return http.StatusForbidden, "csrf"
	case errors.Is(err, ErrOrigin):
		return http.StatusForbidden, "origin"
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrEditorsOnly):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrNotHolder), errors.Is(err, handoff.ErrNotHolder):
		return http.StatusForbidden, "not_holder"
	case errors.Is(err, handoff.ErrBadStatus):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, handoff.ErrLeaseLost):
		return http.StatusConflict, "lease_lost"
	case errors.Is(err, handoff.ErrTaken):
		return http.StatusConflict, "taken"
	case errors.Is(err, handoff.ErrEmpty):
		return http.StatusNotFound, "empty"
	case errors.Is(err, handoff.ErrCapacity):
		return http.StatusConflict, "capacity"
	case errors.Is(err, handoff.ErrSkill):
		return http.StatusForbidden, "skill"
	case errors.Is(err, handoff.ErrOffline):
		return http.StatusConflict, "offline"
	case errors.Is(err, handoff.ErrUnknownAgent):
		return http.StatusConflict, "unknown_agent"
	case errors.Is(err, handoff.ErrSameAgent):
		return http.StatusConflict, "same_agent"
	case errors.Is(err, handoff.ErrNotOpen):
		return http.StatusConflict, "not_open"
	case errors.Is(err, errTransition):
		return http.StatusConflict, "transition"
	case errors.Is(err, handoff.ErrUnknownGroup):
		return http.StatusBadRequest, "unknown_group"
	case errors.Is(err, ErrNotImage):
		return http.StatusBadRequest, "not_image"
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrNoMedia):
		return http.StatusNotFound, "no_media"
	case errors.Is(err, ErrBadRequest), errors.Is(err, handoff.ErrBadID):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrNotFound), errors.Is(err, redis.Nil):
		return http.StatusNotFound, "not_found"
	}
	return http.StatusInternalServerError, "internal"
}
