package wechat

import (
	"errors"
	"fmt"
)

// Errors of the server URL (inbound). Each maps to one HTTP status.
var (
	ErrSignature = errors.New("bad signature")              // 403
	ErrDecrypt   = errors.New("cannot decrypt message")     // 403
	ErrMalformed = errors.New("malformed message")          // 400
	ErrTooLarge  = errors.New("request body too large")     // 413
	ErrClosed    = errors.New("wechat adapter not running") // 503
	// ErrStale: the signed timestamp is missing, not a number, or further
	// from the gateway's clock than Config.TimestampWindow.
	ErrStale = errors.New("timestamp outside the window") // 403
	// ErrReplay: the signed (timestamp, nonce) pair was used already, by
	// another message or longer ago than WeChat's retries.
	ErrReplay = errors.New("nonce already used") // 403
	// ErrMode: the message is not protected the way Config.Mode requires (a
	// plaintext body in safe mode, an encrypted one in plain mode).
	ErrMode = errors.New("message protection does not match wechat.mode") // 403
	// ErrUnavailable: the nonce could not be checked (Redis): WeChat retries.
	ErrUnavailable = errors.New("replay check unavailable") // 503
)

// Errors of Send (the customer-service message API). The agent console shows
// them: a message that cannot be delivered never vanishes silently.
var (
	// ErrWindowClosed: the customer wrote last more than 48 hours ago (or
	// never), so WeChat refuses customer-service messages (errcode 45015).
	ErrWindowClosed = errors.New("48-hour customer-service window closed")
	// ErrQuota: the messages allowed since the customer's last message are
	// used up (errcode 45047).
	ErrQuota = errors.New("customer-service message quota used up")
	// ErrBlocked: the customer unsubscribed or blocked the account (errcode
	// 43004, 43019).
	ErrBlocked = errors.New("customer unsubscribed or blocked the account")
	// ErrAPI: any error answer of the WeChat API; errors.As gives the
	// *APIError with the code.
	ErrAPI = errors.New("wechat api error")
	// ErrToken: no access token could be obtained (wrong AppID/AppSecret,
	// IP not whitelisted, WeChat unreachable).
	ErrToken = errors.New("cannot get wechat access token")
	// ErrTransport: WeChat could not be reached (network, timeout, HTTP
	// status other than 200) even after the retries.
	ErrTransport = errors.New("wechat api unreachable")
)

// ErrConfig reports invalid credentials or settings (New).
var ErrConfig = errors.New("invalid wechat configuration")

// WeChat API error codes the adapter treats specially.
const (
	codeBusy          = -1    // system busy: retried
	codeInvalidToken  = 40001 // access token invalid: refetched once
	codeInvalidToken2 = 40014 // invalid access token
	codeExpiredToken  = 42001 // access token expired
	codeNeedSubscribe = 43004 // the customer unsubscribed
	codeBlacklisted   = 43019 // the customer is on the account's blacklist
	codeWindowClosed  = 45015 // reply time limit exceeded (48 hours)
	codeQuota         = 45047 // too many customer-service messages
)

// APIError is an error answer of the WeChat API ({"errcode":…,"errmsg":…}).
// It matches ErrAPI, and also ErrWindowClosed (45015), ErrQuota (45047) or
// ErrBlocked (43004, 43019) with errors.Is.
type APIError struct {
	Code int64
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat api errcode %d: %s", e.Code, e.Msg)
}

// Is makes errors.Is(err, ErrWindowClosed) and the like work on the code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAPI:
		return true
	case ErrWindowClosed:
		return e.Code == codeWindowClosed
	case ErrQuota:
		return e.Code == codeQuota
	case ErrBlocked:
		return e.Code == codeNeedSubscribe || e.Code == codeBlacklisted
	}
	return false
}
