// Package faq owns the FAQ that content editors keep as YAML files in a folder:
// its schema, loading with validation that reports every problem with
// file:line:column, editors' test cases, and watching the folder so that a
// valid edit is picked up while an invalid one leaves the last good FAQ in
// service. It does not match questions (package intents does) and knows
// nothing of channels or conversations.
package faq

import "strings"

// FAQ is a validated set of intents loaded from one folder.
type FAQ struct {
	Dir      string
	Intents  []*Intent
	Synonyms []SynonymGroup
	Words    []string // extra dictionary words for the tokenizer
	Tests    []TestCase
	Canned   []*Canned // the agents' canned replies (快捷回复), in file order
	Files    []string  // the files it was loaded from, relative to Dir
	byID     map[string]*Intent
}

// Intent is one thing customers ask about and the bot's answer to it.
type Intent struct {
	ID        string
	Category  string
	Questions []string // the standard question first, then paraphrases
	Answer    Answer
	Keywords  []string
	Handoff   bool   // always hand off to a human
	Priority  string // "" (normal), "low", "high" or PriorityUrgent: the hand-off's priority
	Lang      string // "" (Chinese) or another language code such as "en"
	Pos       Pos    // where the intent starts
}

// PriorityUrgent hands an intent's questions off at once, with priority
// urgent. Other levels (low, high) only set the priority of a hand-off.
const PriorityUrgent = "urgent"

// Answer is what the bot replies for an intent.
type Answer struct {
	Text     string            // default (Chinese) text
	En       string            // English text, if any
	Channels map[string]string // per-channel variants of Text: web, wechat, telegram
	Choices  []string          // intent ids offered as quick replies after the answer
}

// Text returns the answer for a channel and a language ("en" or anything
// else for the default), falling back to the default text.
func (a Answer) For(channel, lang string) string {
	if strings.HasPrefix(lang, "en") && a.En != "" {
		return a.En
	}
	if t, ok := a.Channels[channel]; ok && t != "" {
		return t
	}
	return a.Text
}

// SynonymGroup is a set of words the matcher treats as one; Words[0] is the
// canonical form.
type SynonymGroup struct {
	Words []string
	Pos   Pos
}

// TestCase is an editor's test: a phrasing and the outcomes it must reach.
type TestCase struct {
	Text   string
	Expect []string // intent ids, "@handoff" or "@none"; any one is a pass
	Pos    Pos
}

// Pos is a place in a FAQ file.
type Pos struct {
	File   string
	Line   int
	Column int
}

// Intent returns the intent with the given id, or nil.
func (f *FAQ) Intent(id string) *Intent {
	return f.byID[id]
}
