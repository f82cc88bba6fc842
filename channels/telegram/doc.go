// Package telegram is kefu's Telegram channel: it turns Telegram updates
// into bot.Messages for the engine and delivers bot.Outbounds with the Bot
// API (github.com/go-telegram/bot for the calls, its models for the types).
// It does not decide answers (bot does) or queue conversations for agents
// (handoff does).
//
// # Ingress
//
// Both modes persist before they acknowledge, which the library's own
// webhook handler and polling loop do not:
//
//   - Webhook (Config.Mode "webhook"): Start calls setWebhook with the URL,
//     the secret token and the allowed update types (message,
//     edited_message, callback_query, my_chat_member). The Adapter is the
//     http.Handler: wrong X-Telegram-Bot-Api-Secret-Token → 401 (not read),
//     body over Config.MaxBody → 413, not an update → 400, update the
//     Handler could not store → 500 (Telegram redelivers), anything else →
//     200, once the Handler has stored it.
//   - Polling (Config.Mode "polling"): Start removes any webhook and runs a
//     getUpdates loop until Close. The offset (the last update handled) is
//     written to Redis after the Handler returned, and only the next
//     getUpdates confirms the update to Telegram; a crash in between
//     redelivers it and the Handler's dedupe keeps it from being answered
//     twice. One instance polls at a time (a lease in Redis).
//
// Every update is deduplicated by the Handler on bot.Message.ID: the
// update_id for messages; "edit:<chat>:<message>:<edit_date>" for edits;
// "cb:<chat>:<keyboard message>:<user>" for buttons, so a redelivered
// callback and a second tap on the same keyboard act once (every callback
// query is answered with answerCallbackQuery all the same, and the keyboard
// is removed once used).
//
// # What is passed on
//
//   - Text → bot.KindText. /start and /help → KindStart (the welcome;
//     "/start human", the deep link t.me/<bot>?start=human, → KindHuman).
//     /human (also /agent, /kefu) and the 转人工 button → KindHuman. Other
//     commands in a private chat are text.
//   - Photo, sticker, voice, video, video note, animation, audio, document,
//     location, venue, contact, dice, poll, story → KindMedia, Text a
//     description for the agent: "[图片] file_id=…", "[位置] 纬度=… 经度=…",
//     plus the caption. Never a download link: it would contain the token.
//   - Edited messages: an edited text is a new text message of its own (the
//     customer corrected the question; the bot answers the corrected one,
//     an agent sees it). Other edits (live locations, captions) are ignored.
//   - Buttons: a clarify choice → Choice (intent id), 转人工 → KindHuman, a
//     survey score → KindRating with Choice "1".."5".
//   - my_chat_member in a private chat: the customer blocked the bot → the
//     chat is remembered as blocked and KindLeave closes the conversation;
//     unblocked → forgotten. Any message from the customer also clears it.
//   - The sender's language_code is bot.Message.Lang ("en…" selects the
//     English wording).
//   - Ignored: channel posts, messages from bots or anonymous admins, service
//     messages (joins, pins, migrations), updates kefu does not subscribe
//     to, callbacks whose data kefu did not send.
//
// # Groups
//
// In a group or supergroup the bot reads only messages addressed to it:
// those that mention it (@username or a text mention), reply to one of its
// messages, or are one of its commands (/cmd or /cmd@thisbot). Each customer
// in a group has a conversation of its own, keyed
// bot.Message.User = "g<chat id>:<user id>", never the same as their private
// one (User = "<user id>"), so nothing said in private reaches the group.
// Replies go to the group as replies to the customer's message (in its
// forum topic). A person never answers in a group: when the engine hands a
// group conversation off, the group gets an invitation to the private chat
// (a button to t.me/<bot>?start=human) instead, the group conversation is
// closed again (KindLeave), and Send refuses agent replies and surveys for a
// group user with ErrGroupChat.
//
// A text longer than Config.MaxMessageLen characters (default 1000, the web
// chat's limit) is not stored: the customer is asked to split it
// (Texts.TooLong) and the log records the user and the length, not the text.
//
// # Delivery
//
// Send (and the replies to inbound messages) go through a queue per chat:
// in order for one chat, and a chat that Telegram slows down does not hold
// the others. 429 waits retry_after (up to Config.MaxRetryAfter) and 5xx
// backs off exponentially, at most Config.SendAttempts tries, always within
// the caller's context. 403 (blocked, kicked) is remembered in Redis
// ({kefu}:tg:blocked:<chat>); Send returns an error wrapping ErrBlocked and
// later sends fail at once without calling Telegram. All calls share a
// rate limit (Config.RatePerSecond). Replies to an inbound message are sent
// after it is acknowledged: a crash in that moment loses the reply, never
// the message.
//
// The bot token is passed in (Secrets, from KEFU_TELEGRAM_TOKEN), never
// logged, and blanked out of every error and log line.
package telegram
