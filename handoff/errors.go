package handoff

import (
	"errors"
	"strings"
)

// Errors returned by the queue. Lua error replies map to these in scriptErr
// and nowhere else.
var (
	// ErrEmpty: nothing is waiting in the agent's groups.
	ErrEmpty = errors.New("no conversation waiting")
	// ErrTaken: the named conversation is not waiting (another agent has it,
	// or it went back to the bot).
	ErrTaken = errors.New("conversation already taken")
	// ErrCapacity: the agent already holds their maximum of concurrent chats.
	ErrCapacity = errors.New("agent at capacity")
	// ErrSkill: the agent is not in the conversation's group.
	ErrSkill = errors.New("agent not in the conversation's group")
	// ErrLeaseLost: the agent's claim is stale (expired, reaped, transferred or
	// taken over); the write was refused.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNotHolder: the agent does not hold the conversation.
	ErrNotHolder = errors.New("not the holder of the conversation")
	// ErrNotWaiting: the conversation is not in a queue.
	ErrNotWaiting = errors.New("conversation not waiting")
	// ErrNotOpen: the conversation is neither waiting nor held.
	ErrNotOpen = errors.New("conversation not open")
	// ErrUnknownAgent: no such agent has ever signed in.
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrOffline: the agent has signed out.
	ErrOffline = errors.New("agent offline")
	// ErrSameAgent: a transfer to the agent who already holds the conversation.
	ErrSameAgent = errors.New("transfer to the same agent")
	// ErrUnknownGroup: a group that is not configured.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrNoOffer: nothing is offered to this agent for the conversation.
	ErrNoOffer = errors.New("no offer")
	// ErrNoSurvey: the conversation was not closed by an agent, or the survey
	// window has passed.
	ErrNoSurvey = errors.New("no survey pending")
	// ErrAlreadyRated: the customer already rated this close.
	ErrAlreadyRated = errors.New("already rated")
	// ErrBadRating: a rating outside 1..5.
	ErrBadRating = errors.New("rating must be 1 to 5")
	// ErrBadID: an empty id, or one containing characters the keys cannot hold.
	ErrBadID = errors.New("bad id")
	// ErrBadStatus: an agent status other than online, busy or away.
	ErrBadStatus = errors.New("unknown agent status")
	// ErrConfig: the configuration is invalid.
	ErrConfig = errors.New("invalid hand-off config")
)

// luaErrors maps the scripts' error replies to sentinels.
var luaErrors = map[string]error{
	"EMPTY":         ErrEmpty,
	"TAKEN":         ErrTaken,
	"CAPACITY":      ErrCapacity,
	"SKILL":         ErrSkill,
	"LEASE_LOST":    ErrLeaseLost,
	"NOT_HOLDER":    ErrNotHolder,
	"NOT_WAITING":   ErrNotWaiting,
	"NOT_OPEN":      ErrNotOpen,
	"UNKNOWN_AGENT": ErrUnknownAgent,
	"OFFLINE":       ErrOffline,
	"SAME_AGENT":    ErrSameAgent,
	"NO_OFFER":      ErrNoOffer,
	"NO_SURVEY":     ErrNoSurvey,
	"ALREADY_RATED": ErrAlreadyRated,
}

// scriptErr turns a script's error reply into its sentinel; any other error
// (network, Redis) is returned as it is.
func scriptErr(err error) error {
	if err == nil {
		return nil
	}
	// Redis 7 answers redis.error_reply('EMPTY') as "ERR EMPTY"; older
	// versions as "EMPTY".
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	if i := strings.IndexByte(msg, ' '); i > 0 {
		msg = msg[:i]
	}
	if s, ok := luaErrors[msg]; ok {
		return s
	}
	return err
}
