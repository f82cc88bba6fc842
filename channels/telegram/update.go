package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"github.com/kefu-dev/kefu/bot"
)

// identity is what the adapter knows of its own bot, to tell whether a group
// message is addressed to it.
type identity struct {
	id       int64  // from the token (the part before ':')
	username string // without @, lower case; may be empty
}

// action is what one update asks of the adapter. classify produces it
// without I/O, so the decision for every kind of update is unit-tested and
// fuzzed.
type action struct {
	ignore     string      // why the update is deliberately ignored; "" when processed
	handle     bool        // msg goes to the engine
	msg        bot.Message // the engine's message
	chatID     int64       // where replies go
	group      bool        // a group or supergroup chat
	thread     int         // forum topic of the message (groups)
	replyTo    int         // the message replies answer (groups)
	callbackID string      // to answer with answerCallbackQuery (even when ignored)
	keyboard   int         // the message whose inline keyboard was used
	block      bool        // the customer blocked the bot (private my_chat_member)
	unblock    bool        // the customer unblocked the bot, or wrote again
	// photo is the file id of a photo's largest size and caption its
	// caption: with a media store the photo is kept and the message becomes
	// an image (keepPhoto).
	photo, caption string
}

// summary names the outcome for tests and logs: "ignored", "unblock" or
// the engine kind ("text", "start", "human", "media", "rating", "leave").
func (a action) summary() string {
	switch {
	case a.ignore != "":
		return "ignored"
	case a.handle && a.msg.Kind == bot.KindText && a.msg.Choice != "":
		return "choice"
	case a.handle && a.msg.Kind == bot.KindText:
		return "text"
	case a.handle:
		return a.msg.Kind
	case a.unblock:
		return "unblock"
	}
	return "none"
}

// errNotUpdate reports a webhook body that is JSON but not a Telegram update.
var errNotUpdate = errors.New("not a telegram update")

// decodeUpdate parses an update. The library's types are tried first; when
// they refuse valid JSON (a field type newer than the library, such as an
// unknown forward origin or reaction type), the fields kefu uses are decoded
// leniently so that a customer's message is not lost to a library upgrade.
func decodeUpdate(body []byte) (*models.Update, error) {
	var u models.Update
	if err := json.Unmarshal(body, &u); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || !json.Valid(body) {
			return nil, fmt.Errorf("decode update: %w", err)
		}
		var l leanUpdate
		if err2 := json.Unmarshal(body, &l); err2 != nil {
			return nil, fmt.Errorf("decode update: %w", err)
		}
		u = l.update()
	}
	var head struct {
		ID *int64 `json:"update_id"`
	}
	if json.Unmarshal(body, &head) != nil || head.ID == nil || *head.ID < 0 {
		return nil, fmt.Errorf("decode update: %w: no update_id", errNotUpdate)
	}
	return &u, nil
}

// leanUpdate holds only what kefu reads, with leaf types that cannot refuse
// to decode.
type leanUpdate struct {
	ID            int64        `json:"update_id"`
	Message       *leanMessage `json:"message"`
	EditedMessage *leanMessage `json:"edited_message"`
	CallbackQuery *struct {
		ID      string       `json:"id"`
		From    models.User  `json:"from"`
		Message *leanMessage `json:"message"`
		Data    string       `json:"data"`
	} `json:"callback_query"`
}

type leanMessage struct {
	ID              int                    `json:"message_id"`
	ThreadID        int                    `json:"message_thread_id"`
	IsTopicMessage  bool                   `json:"is_topic_message"`
	From            *models.User           `json:"from"`
	Date            int                    `json:"date"`
	Chat            models.Chat            `json:"chat"`
	ReplyTo         *leanMessage           `json:"reply_to_message"`
	EditDate        int                    `json:"edit_date"`
	Text            string                 `json:"text"`
	Entities        []models.MessageEntity `json:"entities"`
	Caption         string                 `json:"caption"`
	CaptionEntities []models.MessageEntity `json:"caption_entities"`
	Animation       *models.Animation      `json:"animation"`
	Audio           *models.Audio          `json:"audio"`
	Document        *models.Document       `json:"document"`
	Photo           []models.PhotoSize     `json:"photo"`
	Sticker         *models.Sticker        `json:"sticker"`
	Video           *models.Video          `json:"video"`
	VideoNote       *models.VideoNote      `json:"video_note"`
	Voice           *models.Voice          `json:"voice"`
	Contact         *models.Contact        `json:"contact"`
	Venue           *models.Venue          `json:"venue"`
	Location        *models.Location       `json:"location"`
}

func (l leanUpdate) update() models.Update {
	u := models.Update{ID: l.ID, Message: l.Message.message(0), EditedMessage: l.EditedMessage.message(0)}
	if c := l.CallbackQuery; c != nil {
		u.CallbackQuery = &models.CallbackQuery{ID: c.ID, From: c.From, Data: c.Data}
		if m := c.Message.message(0); m != nil {
			u.CallbackQuery.Message = models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: m}
		}
	}
	return u
}

func (l *leanMessage) message(depth int) *models.Message {
	if l == nil || depth > 1 {
		return nil
	}
	return &models.Message{ID: l.ID, MessageThreadID: l.ThreadID, IsTopicMessage: l.IsTopicMessage, From: l.From,
		Date: l.Date, Chat: l.Chat, ReplyToMessage: l.ReplyTo.message(depth + 1), EditDate: l.EditDate,
		Text: l.Text, Entities: l.Entities, Caption: l.Caption, CaptionEntities: l.CaptionEntities,
		Animation: l.Animation, Audio: l.Audio, Document: l.Document, Photo: l.Photo, Sticker: l.Sticker,
		Video: l.Video, VideoNote: l.VideoNote, Voice: l.Voice, Contact: l.Contact, Venue: l.Venue, Location: l.Location}
}

// Callback data of the inline keyboards kefu sends (at most 64 bytes).
const (
	cbHuman  = "h"  // the 转人工 button
	cbChoice = "c:" // + intent id: a clarify choice or a related question
	cbRating = "r:" // + "1".."5": the satisfaction survey
)

// groupUser is the bot.Message.User of a customer writing in a group: one
// conversation per (group, customer), apart from their private one.
func groupUser(chat, user int64) string {
	return "g" + strconv.FormatInt(chat, 10) + ":" + strconv.FormatInt(user, 10)
}

// target is where an Outbound.User is addressed.
type target struct {
	chat  int64
	user  int64
	group bool
}

// parseUser reverses the User encoding: "<user id>" for a private chat,
// "g<chat id>:<user id>" for a customer in a group.
func parseUser(u string) (target, error) {
	if rest, ok := strings.CutPrefix(u, "g"); ok {
		c, uid, ok := strings.Cut(rest, ":")
		chat, err1 := strconv.ParseInt(c, 10, 64)
		user, err2 := strconv.ParseInt(uid, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return target{}, fmt.Errorf("%w: %q", ErrBadUser, u)
		}
		return target{chat: chat, user: user, group: true}, nil
	}
	id, err := strconv.ParseInt(u, 10, 64)
	if err != nil || id <= 0 {
		return target{}, fmt.Errorf("%w: %q", ErrBadUser, u)
	}
	return target{chat: id, user: id}, nil
}

// classify decides what an update means for kefu.
func classify(u *models.Update, me identity, at time.Time) action {
	uid := strconv.FormatInt(u.ID, 10)
	switch {
	case u.Message != nil:
		return classifyMessage(u.Message, uid, me, at)
	case u.EditedMessage != nil:
		m := u.EditedMessage
		a := classifyMessage(m, "", me, at)
		if a.ignore != "" {
			return a
		}
		if !a.handle || a.msg.Kind != bot.KindText {
			return action{ignore: "edited message that is not text (live location, caption, command)"}
		}
		// An edit is a new text message of its own: the customer corrected
		// the question, and the bot (or the agent) sees the corrected one.
		a.msg.ID = fmt.Sprintf("edit:%d:%d:%d", m.Chat.ID, m.ID, m.EditDate)
		return a
	case u.CallbackQuery != nil:
		return classifyCallback(u.CallbackQuery, me, at)
	case u.MyChatMember != nil:
		return classifyMember(u.MyChatMember, uid, at)
	}
	return action{ignore: "update type kefu does not subscribe to"}
}

func classifyMessage(m *models.Message, id string, me identity, at time.Time) action {
	if m.From == nil && m.Chat.Type == models.ChatTypePrivate && m.Chat.ID > 0 {
		// In a private chat the chat is the customer.
		m = shallowCopy(m)
		m.From = &models.User{ID: m.Chat.ID, FirstName: m.Chat.FirstName}
	}
	if m.From == nil || m.From.ID <= 0 {
		return action{ignore: "no sender (channel post or anonymous admin)"}
	}
	if m.From.IsBot {
		return action{ignore: "sent by a bot"}
	}
	a := action{chatID: m.Chat.ID, msg: bot.Message{Channel: "telegram", ID: id, Lang: m.From.LanguageCode, Nick: nickOf(m.From), At: at}}
	switch m.Chat.Type {
	case models.ChatTypePrivate:
		if m.Chat.ID != m.From.ID {
			return action{ignore: "private chat that is not the sender's"}
		}
		a.msg.User = strconv.FormatInt(m.From.ID, 10)
		a.unblock = true
	case models.ChatTypeGroup, models.ChatTypeSupergroup:
		a.group = true
		a.msg.User = groupUser(m.Chat.ID, m.From.ID)
		a.replyTo = m.ID
		if m.IsTopicMessage {
			a.thread = m.MessageThreadID
		}
	default:
		return action{ignore: "chat type " + string(m.Chat.Type)}
	}
	text, entities := m.Text, m.Entities
	if text == "" {
		text, entities = m.Caption, m.CaptionEntities
	}
	// Commands: /start, /help (welcome), /human (a person). In a group a
	// command for another bot (/start@other) is not ours.
	if cmd, arg, forMe, ok := command(text, me); ok {
		if !forMe {
			return action{ignore: "command for another bot"}
		}
		switch cmd {
		case "start", "help":
			a.handle, a.msg.Kind = true, bot.KindStart
			if strings.EqualFold(arg, "human") { // deep link t.me/<bot>?start=human
				a.msg.Kind = bot.KindHuman
			}
			return a
		case "human", "agent", "kefu":
			a.handle, a.msg.Kind = true, bot.KindHuman
			return a
		}
		if a.group {
			return action{ignore: "unknown command in a group"}
		}
	}
	if a.group {
		if !addressed(m, text, entities, me) {
			return action{ignore: "group message not addressed to the bot"}
		}
		text = stripMention(text, me.username)
	}
	if desc := describeMedia(m); desc != "" {
		a.handle, a.msg.Kind, a.msg.Text = true, bot.KindMedia, desc
		a.photo, a.caption = bestPhoto(m), captionOf(m, me)
		if m.Caption != "" {
			a.msg.Text += " 说明：" + stripMention(m.Caption, me.username)
		}
		return a
	}
	if m.Text == "" {
		return action{ignore: "service message or content kefu does not read"}
	}
	if strings.TrimSpace(text) == "" {
		return action{ignore: "empty text after the mention"}
	}
	a.handle, a.msg.Text = true, text
	return a
}

func shallowCopy(m *models.Message) *models.Message {
	c := *m
	return &c
}

// command parses "/cmd[@bot] [arg]" at the start of text.
func command(text string, me identity) (cmd, arg string, forMe, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false, false
	}
	head, arg, _ := strings.Cut(text[1:], " ")
	cmd, at, hasAt := strings.Cut(head, "@")
	if cmd == "" {
		return "", "", false, false
	}
	forMe = !hasAt || (me.username != "" && strings.EqualFold(at, me.username))
	return strings.ToLower(cmd), strings.TrimSpace(arg), forMe, true
}

// addressed reports whether a group message is for the bot: it mentions the
// bot by @username or text mention, or replies to one of the bot's messages.
func addressed(m *models.Message, text string, entities []models.MessageEntity, me identity) bool {
	// In a forum topic every message replies to the topic's first message:
	// that is not a reply to the bot.
	if r := m.ReplyToMessage; r != nil && r.From != nil && me.id != 0 && r.From.ID == me.id &&
		!(m.IsTopicMessage && r.ID == m.MessageThreadID) {
		return true
	}
	for _, e := range entities {
		if e.Type == models.MessageEntityTypeTextMention && e.User != nil && me.id != 0 && e.User.ID == me.id {
			return true
		}
	}
	return mentionIndex(text, me.username) >= 0
}

// mentionIndex finds "@username" as a whole word (ASCII case-insensitive)
// and returns its byte offset, or -1.
func mentionIndex(text, username string) int {
	if username == "" {
		return -1
	}
	for i := 0; i < len(text); i++ {
		end := i + 1 + len(username)
		if text[i] != '@' || end > len(text) || !strings.EqualFold(text[i+1:end], username) {
			continue
		}
		if i > 0 && isUsernameByte(text[i-1]) {
			continue // part of an e-mail address or another word
		}
		if end == len(text) || !isUsernameByte(text[end]) {
			return i
		}
	}
	return -1
}

func isUsernameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// stripMention removes the bot's @username from a group message.
func stripMention(text, username string) string {
	for {
		i := mentionIndex(text, username)
		if i < 0 {
			return strings.TrimSpace(text)
		}
		text = text[:i] + text[i+1+len(username):]
	}
}

// describeMedia describes a non-text message for the agent: type, file id
// (never a download link: it would carry the bot token) or coordinates.
func describeMedia(m *models.Message) string {
	switch {
	case len(m.Photo) > 0:
		best := m.Photo[0]
		for _, p := range m.Photo {
			if p.Width*p.Height > best.Width*best.Height {
				best = p
			}
		}
		return "[图片] file_id=" + best.FileID
	case m.Sticker != nil:
		return fmt.Sprintf("[贴纸 %s] file_id=%s", m.Sticker.Emoji, m.Sticker.FileID)
	case m.Voice != nil:
		return fmt.Sprintf("[语音 %d秒] file_id=%s", m.Voice.Duration, m.Voice.FileID)
	case m.VideoNote != nil:
		return fmt.Sprintf("[视频消息 %d秒] file_id=%s", m.VideoNote.Duration, m.VideoNote.FileID)
	case m.Animation != nil:
		return "[动图] file_id=" + m.Animation.FileID
	case m.Video != nil:
		return fmt.Sprintf("[视频 %d秒] file_id=%s", m.Video.Duration, m.Video.FileID)
	case m.Audio != nil:
		return fmt.Sprintf("[音频 %s] file_id=%s", strings.TrimSpace(m.Audio.Performer+" "+m.Audio.Title), m.Audio.FileID)
	case m.Document != nil:
		return fmt.Sprintf("[文件 %s] file_id=%s", m.Document.FileName, m.Document.FileID)
	case m.Venue != nil:
		return fmt.Sprintf("[地点 %s，%s] 纬度=%.6f 经度=%.6f", m.Venue.Title, m.Venue.Address, m.Venue.Location.Latitude, m.Venue.Location.Longitude)
	case m.Location != nil:
		return fmt.Sprintf("[位置] 纬度=%.6f 经度=%.6f", m.Location.Latitude, m.Location.Longitude)
	case m.Contact != nil:
		return fmt.Sprintf("[联系人 %s] 电话=%s", strings.TrimSpace(m.Contact.FirstName+" "+m.Contact.LastName), m.Contact.PhoneNumber)
	case m.Dice != nil:
		return fmt.Sprintf("[骰子 %s %d]", m.Dice.Emoji, m.Dice.Value)
	case m.Poll != nil:
		return "[投票] " + m.Poll.Question
	case m.Story != nil:
		return "[动态]"
	}
	return ""
}

func classifyCallback(q *models.CallbackQuery, me identity, at time.Time) action {
	a := action{callbackID: q.ID}
	var chat models.Chat
	var msgID int
	switch {
	case q.Message.Message != nil:
		chat, msgID = q.Message.Message.Chat, q.Message.Message.ID
	case q.Message.InaccessibleMessage != nil:
		chat, msgID = q.Message.InaccessibleMessage.Chat, q.Message.InaccessibleMessage.MessageID
	default:
		a.ignore = "callback without a chat message (inline mode or game)"
		return a
	}
	if q.From.ID <= 0 || q.From.IsBot || chat.ID == 0 {
		a.ignore = "callback without a sender"
		return a
	}
	a.chatID, a.keyboard = chat.ID, msgID
	// One action per keyboard and customer: a repeated delivery and a second
	// tap on the same keyboard are both duplicates.
	a.msg = bot.Message{Channel: "telegram", Lang: q.From.LanguageCode, Nick: nickOf(&q.From), At: at,
		ID: fmt.Sprintf("cb:%d:%d:%d", chat.ID, msgID, q.From.ID)}
	switch chat.Type {
	case models.ChatTypePrivate:
		if chat.ID != q.From.ID {
			a.ignore = "callback in a private chat that is not the sender's"
			return a
		}
		a.msg.User = strconv.FormatInt(q.From.ID, 10)
		a.unblock = true
	case models.ChatTypeGroup, models.ChatTypeSupergroup:
		a.group, a.replyTo = true, msgID
		a.msg.User = groupUser(chat.ID, q.From.ID)
	default:
		a.ignore = "callback in a " + string(chat.Type)
		return a
	}
	switch d := q.Data; {
	case d == cbHuman:
		a.msg.Kind = bot.KindHuman
	case strings.HasPrefix(d, cbChoice) && len(d) > len(cbChoice) && utf8.ValidString(d):
		a.msg.Choice = d[len(cbChoice):]
	case strings.HasPrefix(d, cbRating) && len(d) == len(cbRating)+1 && d[2] >= '1' && d[2] <= '5':
		a.msg.Kind, a.msg.Choice = bot.KindRating, d[2:]
	default:
		a.ignore = "callback data kefu did not send"
		return a
	}
	a.handle = true
	return a
}

func classifyMember(c *models.ChatMemberUpdated, id string, at time.Time) action {
	if c.Chat.Type != models.ChatTypePrivate {
		return action{ignore: "bot membership change in a group"}
	}
	if c.From.ID <= 0 || c.Chat.ID != c.From.ID {
		return action{ignore: "membership change without a sender"}
	}
	a := action{chatID: c.Chat.ID}
	switch c.NewChatMember.Type {
	case models.ChatMemberTypeBanned:
		// The customer blocked the bot: nothing can reach them, so the
		// conversation is closed (an agent stops waiting on them).
		a.block, a.handle = true, true
		a.msg = bot.Message{Channel: "telegram", User: strconv.FormatInt(c.From.ID, 10), ID: id, Kind: bot.KindLeave, At: at}
	case models.ChatMemberTypeMember:
		a.unblock = true
	default:
		a.ignore = "membership change " + string(c.NewChatMember.Type)
	}
	return a
}

// nickOf is how the customer calls themselves on Telegram: their first and
// last name, else @username ("" when neither), cut to 64 characters.
func nickOf(u *models.User) string {
	if u == nil {
		return ""
	}
	n := strings.TrimSpace(strings.TrimSpace(u.FirstName) + " " + strings.TrimSpace(u.LastName))
	if n == "" && u.Username != "" {
		n = "@" + u.Username
	}
	if r := []rune(n); len(r) > 64 {
		n = string(r[:64])
	}
	return n
}
