package telegram

import "errors"

// ErrBlocked reports a chat the bot can no longer write to: the customer
// blocked the bot, deleted their account, or the bot was removed from the
// group (Telegram answered 403). It is remembered, so later sends to that chat
// fail at once; the agent console shows it. A new message from the customer
// clears it.
var ErrBlocked = errors.New("telegram: chat blocked the bot")

// ErrRateLimited reports a send that Telegram kept refusing with 429 for
// longer than the adapter is willing to wait.
var ErrRateLimited = errors.New("telegram: rate limited")

// ErrSendFailed reports a send that failed permanently (400 from Telegram,
// or a transient failure that persisted through every attempt).
var ErrSendFailed = errors.New("telegram: send failed")

// ErrGroupChat reports an agent reply or survey addressed to a customer's
// group conversation: kefu never posts a customer's conversation with an
// agent into a group; the customer was asked to write to the bot privately.
var ErrGroupChat = errors.New("telegram: agent messages are not sent to group chats")

// ErrBadUser reports an Outbound.User that is not a Telegram user this
// adapter produced.
var ErrBadUser = errors.New("telegram: not a telegram user")

// ErrClosed reports a send after Close.
var ErrClosed = errors.New("telegram: adapter closed")

// ErrConfig reports an invalid configuration passed to New.
var ErrConfig = errors.New("telegram: invalid configuration")
