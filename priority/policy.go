package priority

import "time"

// Reasons a priority was raised, as Decision.Reasons and the console name them.
const (
	ReasonIntent    = "intent"     // the FAQ intent's priority
	ReasonWords     = "words"      // the customer's words (Decision.Words)
	ReasonReturning = "returning"  // back about the same thing within the reopen window
	ReasonLowRating = "low_rating" // their last rating was low
	ReasonMember    = "member"     // the shop's member level
)

// Policy combines what sets a hand-off's priority: the intent's level, the
// customer's words (Lexicon) and their history. The zero Policy with a
// Lexicon reads words only.
type Policy struct {
	Lexicon *Lexicon
	// Members maps a member level as the shop passes it (e.g. "gold") to
	// the least priority its customers get.
	Members map[string]Level
	// Reopen is the window within which a customer who comes back about the
	// same thing after a close is raised to high. 0: not used.
	Reopen time.Duration
	// LowRating: a last rating at or under it raises to high. 0: not used.
	LowRating int
}

// Signals are what is known when a conversation is handed off.
type Signals struct {
	Intent     Level         // the matched intent's priority (Unset: none)
	Text       string        // the customer's message
	Member     string        // the shop's member level, if signed in
	LastRating int           // their last rating, 0 when none
	SinceClose time.Duration // since their last conversation closed; < 0 when there was none
	SameThing  bool          // that conversation was about the same thing (same category)
}

// Decision is a priority and why.
type Decision struct {
	Level   Level
	Reasons []string
	Words   []string // the words that raised it, when ReasonWords is among the reasons
}

// Decide is the priority of a hand-off: the most pressing of normal, the
// intent's, the words', and high for a customer who is back about the same
// thing within the reopen window or whose last rating was low, and the
// member level's. An intent may lower it (priority: low) when nothing else
// raises it.
func (p Policy) Decide(s Signals) Decision {
	d := Decision{Level: Normal}
	raise := func(l Level, why string) {
		if l > Normal {
			d.Reasons = append(d.Reasons, why)
		}
		d.Level = Max(d.Level, l)
	}
	if s.Intent == Low {
		d.Level = Low
	}
	raise(s.Intent, ReasonIntent)
	if p.Lexicon != nil {
		if a := p.Lexicon.Assess(s.Text); a.Raised() {
			raise(a.Level, ReasonWords)
			d.Words = a.Words
		}
	}
	if p.Reopen > 0 && s.SameThing && s.SinceClose >= 0 && s.SinceClose <= p.Reopen {
		raise(High, ReasonReturning)
	}
	if p.LowRating > 0 && s.LastRating > 0 && s.LastRating <= p.LowRating {
		raise(High, ReasonLowRating)
	}
	if l, ok := p.Members[s.Member]; ok && s.Member != "" {
		raise(l, ReasonMember)
	}
	return d
}
