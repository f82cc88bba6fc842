package wechat

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
)

// renderAll turns the engine's replies to one message into the texts to
// send: all of them joined into one message (a blank line between), so the
// passive reply carries everything (a hand-off notice and the queue position
// together) without spending the customer-service quota and without two
// messages racing; only a text over MaxTextBytes is split, its first part
// passive and the rest through the API. The numbered choices of the last
// reply that has any are kept for the customer's next message.
func (a *Adapter) renderAll(ctx context.Context, user string, outs []bot.Outbound) []string {
	var parts []string
	var last *offer
	for _, out := range outs {
		text, o := a.render(out)
		if text != "" {
			parts = append(parts, text)
		}
		if o != nil {
			last = o
		}
	}
	if last != nil {
		if err := a.saveOffer(ctx, user, *last); err != nil {
			// The list still goes out; a typed number is then read as text.
			a.log.Warn("wechat save choices", "user", user, "err", err)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return splitText(strings.Join(parts, "\n\n"), a.cfg.MaxTextBytes)
}

// render is one reply as WeChat text. There are no buttons: choices (clarify
// choices, or the related questions under an answer) become a numbered list
// ("回复数字：\n1. …\n2. 转人工") answered by typing the number,
// the survey gets "回复 1-5 评价". A lone 转人工 choice is not listed: the
// texts already say to type 人工.
func (a *Adapter) render(out bot.Outbound) (string, *offer) {
	text := strings.TrimSpace(out.Text)
	if out.Kind == bot.OutSurvey {
		return joinLines(text, a.cfg.SurveyHint), &offer{Kind: offerSurvey}
	}
	if len(out.Choices) == 0 || (len(out.Choices) == 1 && out.Choices[0].ID == bot.ChoiceHuman) {
		return text, nil
	}
	var b strings.Builder
	if out.Kind == bot.OutAnswer {
		b.WriteString(a.cfg.RelatedPrompt)
	} else {
		b.WriteString(a.cfg.ChoicesPrompt)
	}
	o := &offer{Kind: offerChoices}
	for i, c := range out.Choices {
		fmt.Fprintf(&b, "\n%d. %s", i+1, c.Label)
		o.IDs = append(o.IDs, c.ID)
	}
	return joinLines(text, b.String()), o
}

func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}

// splitText cuts text into pieces of at most max bytes, at a line break when
// there is one in the second half of the piece, never inside a character.
func splitText(text string, max int) []string {
	var out []string
	for len(text) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		if nl := strings.LastIndexByte(text[:cut], '\n'); nl > cut/2 {
			cut = nl
		}
		if cut == 0 { // max smaller than one character
			_, cut = utf8.DecodeRuneInString(text)
		}
		out = append(out, strings.TrimRight(text[:cut], "\n"))
		text = strings.TrimLeft(text[cut:], "\n")
	}
	if text != "" {
		out = append(out, text)
	}
	return out
}

// passive builds the passive reply (被动回复) to a message: a text message
// XML, encrypted in safe mode.
func (a *Adapter) passive(s session, text string) ([]byte, error) {
	msg := message.NewText(text)
	msg.SetToUserName(message.CDATA(s.to))
	msg.SetFromUserName(message.CDATA(s.from))
	msg.SetMsgType(message.MsgTypeText)
	msg.SetCreateTime(a.now().Unix())
	raw, err := xml.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("passive reply: %w", err)
	}
	if !s.safe {
		return raw, nil
	}
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("passive reply: %w", err)
	}
	nonce := s.nonce
	if nonce == "" {
		nonce = strconv.FormatInt(a.now().UnixNano()%1e9, 10)
	}
	return a.seal(random, raw, strconv.FormatInt(a.now().Unix(), 10), nonce)
}

// seal encrypts a reply for safe mode with the library (random 16 bytes,
// length, message, AppID; AES-256-CBC) and signs it:
// <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>.
func (a *Adapter) seal(random, raw []byte, timestamp, nonce string) ([]byte, error) {
	enc, err := util.EncryptMsg(random, raw, a.cred.AppID, a.cred.AESKey)
	if err != nil {
		return nil, fmt.Errorf("encrypt reply: %w", err)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("encrypt reply: timestamp %q: %w", timestamp, err)
	}
	out, err := xml.Marshal(message.ResponseEncryptedXMLMsg{
		EncryptedMsg: string(enc),
		MsgSignature: util.Signature(a.cred.Token, timestamp, nonce, string(enc)),
		Timestamp:    ts,
		Nonce:        nonce,
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt reply: %w", err)
	}
	return out, nil
}
