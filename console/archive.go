package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
)

// Archive reads archived conversations: search, one conversation's summary
// and its transcript (*archive.DB satisfies it). The archive owns that
// data; the console only reads it, and decides who may.
type Archive interface {
	Search(ctx context.Context, q archive.Query) (archive.Results, error)
	Conversation(ctx context.Context, id string) (archive.Result, error)
	Show(ctx context.Context, id string) (archive.Transcript, error)
}

var _ Archive = (*archive.DB)(nil)

// Who may read what of the archive:
//
//   - a supervisor: everything;
//   - an agent: the conversations handed to one of their groups (search,
//     history, by id), and, in the history of a customer whose
//     conversation they hold now, that customer's conversations the bot
//     handled alone (handed to no group);
//   - nobody else: an agent asking for another group's conversation is
//     told "skill" whether or not it exists.

// customerOf is the archive's customer id of a live conversation (thread):
// the thread id itself (conv.ThreadID), as the archiver stores it. The one
// place to change when a customer spans threads (signed-in identities).
func customerOf(thread string) string { return thread }

// errArchiveOff: the console has no archive (Deps.Archive is nil).
var errArchiveOff = fmt.Errorf("%w: no archive is configured", ErrNotFound)

// errOtherGroup: an agent asked for an archived conversation outside their
// groups (or one that does not exist: agents are not told which).
var errOtherGroup = fmt.Errorf("%w: not in your groups", handoff.ErrSkill)

// archivePerPage bounds a page of search results or history.
const (
	archivePerPage    = 20
	archiveMaxPerPage = 100
)

// resultJSON is an archived conversation in a list.
type resultJSON struct {
	Conv     string     `json:"conv"`
	Thread   string     `json:"thread"`
	Customer string     `json:"customer"`
	Channel  string     `json:"channel"`
	Group    string     `json:"group"`
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended"`
	Agent    string     `json:"agent"`
	Rating   *int       `json:"rating"`
	Outcome  string     `json:"outcome"`
	Snippet  string     `json:"snippet"`
}

func toResultJSON(r archive.Result) resultJSON {
	thread, _, _ := conv.SplitArchiveID(r.Conv)
	return resultJSON{Conv: r.Conv, Thread: thread, Customer: r.Customer, Channel: r.Channel, Group: r.Group,
		Started: r.Started, Ended: r.Ended, Agent: r.Agent, Rating: r.Rating, Outcome: r.Outcome, Snippet: r.Snippet}
}

// pageJSON is a page of archived conversations.
type pageJSON struct {
	Total int `json:"total"`
	// Capped: more than Total match (the archive stopped counting); Pages
	// then counts the pages up to Total, and more follow.
	Capped  bool         `json:"capped"`
	Page    int          `json:"page"`
	PerPage int          `json:"per_page"`
	Pages   int          `json:"pages"`
	Results []resultJSON `json:"results"`
	// Next is the cursor of the next page (?after=); empty on the last.
	Next string `json:"next,omitempty"`
}

func toPageJSON(res archive.Results, page, per int) pageJSON {
	out := pageJSON{Total: res.Total, Capped: res.Capped, Page: page, PerPage: per, Pages: (res.Total + per - 1) / per, Results: []resultJSON{},
		Next: res.Next}
	for _, r := range res.Results {
		out.Results = append(out.Results, toResultJSON(r))
	}
	return out
}

// paging reads ?page= (from 1), ?per_page= and ?after= (a page's next
// cursor) into q. With after, the page is the one after that cursor, read
// without skipping the earlier ones (page then only numbers it); without,
// page - 1 pages are skipped.
func paging(r *http.Request, q *archive.Query) (page, per int, err error) {
	page, per, err = pageNumbers(r)
	if err != nil {
		return 0, 0, err
	}
	q.Limit, q.Offset, q.After = per, (page-1)*per, r.URL.Query().Get("after")
	if q.After != "" {
		q.Offset = 0
	}
	return page, per, nil
}

// search runs q, a bad cursor being the request's fault.
func (c *Console) search(ctx context.Context, q archive.Query) (archive.Results, error) {
	res, err := c.deps.Archive.Search(ctx, q)
	if errors.Is(err, archive.ErrBadCursor) {
		return res, fmt.Errorf("%w: after: not a cursor of this search", ErrBadRequest)
	}
	return res, err
}

// pageNumbers reads ?page= (from 1) and ?per_page=.
func pageNumbers(r *http.Request) (page, per int, err error) {
	page, per = 1, archivePerPage
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 || page > 1_000_000 {
			return 0, 0, fmt.Errorf("%w: page %q", ErrBadRequest, v)
		}
	}
	if v := r.URL.Query().Get("per_page"); v != "" {
		if per, err = strconv.Atoi(v); err != nil || per < 1 || per > archiveMaxPerPage {
			return 0, 0, fmt.Errorf("%w: per_page %q: want 1 to %d", ErrBadRequest, v, archiveMaxPerPage)
		}
	}
	return page, per, nil
}

// parseDay reads a time: RFC 3339, or a day YYYY-MM-DD (its start in UTC;
// with end, the start of the next day, so that "to" includes the day).
func parseDay(name, v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q: want YYYY-MM-DD or RFC 3339", ErrBadRequest, name, v)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

func parseRating(name, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 5 {
		return 0, fmt.Errorf("%w: %s %q: want 1 to 5", ErrBadRequest, name, v)
	}
	return n, nil
}

// allowedGroups is what an agent may read of the archive (nil: all, for a
// supervisor).
func (c *Console) allowedGroups(s *session) []string {
	if s.supervisor() {
		return nil
	}
	return nonNil(slices.Clone(s.agent.Groups))
}

// searchArchive is the search page's query.
//
//	GET archive/search?q=&entity=&customer=&agent=&channel=&group=&label=&rating_min=&rating_max=&from=&to=&page=&per_page=&after=
func (c *Console) searchArchive(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Archive == nil {
		c.fail(w, r, errArchiveOff)
		return
	}
	v := r.URL.Query()
	q := archive.Query{Words: v.Get("q"), Entity: strings.TrimSpace(v.Get("entity")), Customer: strings.TrimSpace(v.Get("customer")),
		Agent: strings.TrimSpace(v.Get("agent")), Channel: strings.TrimSpace(v.Get("channel")), Group: strings.TrimSpace(v.Get("group")),
		Label:  strings.TrimSpace(v.Get("label")),
		Groups: c.allowedGroups(s)}
	var errs []error
	var err error
	q.From, err = parseDay("from", v.Get("from"), false)
	errs = append(errs, err)
	q.To, err = parseDay("to", v.Get("to"), true)
	errs = append(errs, err)
	q.RatingMin, err = parseRating("rating_min", v.Get("rating_min"))
	errs = append(errs, err)
	q.RatingMax, err = parseRating("rating_max", v.Get("rating_max"))
	errs = append(errs, err)
	page, per, err := paging(r, &q)
	errs = append(errs, err)
	if len([]rune(q.Words)) > 200 {
		errs = append(errs, fmt.Errorf("%w: q longer than 200 characters", ErrBadRequest))
	}
	if err := errors.Join(errs...); err != nil {
		c.fail(w, r, err)
		return
	}
	res, err := c.search(r.Context(), q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPageJSON(res, page, per))
}

// history lists the earlier conversations (of any age) of the customer of
// a conversation the agent holds (any, for a supervisor), newest first.
//
//	GET convs/{id}/history?page=&per_page=&after=
func (c *Console) history(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	if c.deps.Archive == nil {
		c.fail(w, r, errArchiveOff)
		return
	}
	var q archive.Query
	page, per, err := paging(r, &q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	groups := c.allowedGroups(s)
	if !s.supervisor() {
		cv, err := c.deps.Conversations.Load(ctx, cid)
		if err != nil && !errors.Is(err, redis.Nil) {
			c.fail(w, r, err)
			return
		}
		if err != nil || cv.Agent != s.agent.ID || cv.Mode != bot.ModeAgent {
			c.fail(w, r, fmt.Errorf("%s: %w", cid, ErrNotHolder))
			return
		}
		groups = append(groups, "") // the bot's own conversations with this customer
	}
	cust := customerOf(cid)
	q.Customer, q.Groups = cust, groups
	res, err := c.search(ctx, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": cust, "history": toPageJSON(res, page, per)})
}

// archivedEntries turns an archived transcript into the page's entries.
// Archived entries have no stream id: theirs are "archived-N".
func (c *Console) archivedEntries(t archive.Transcript) []entryJSON {
	out := make([]entryJSON, len(t.Entries))
	for i, e := range t.Entries {
		kind := e.Kind
		if e.Dir == archive.DirOut && e.Agent != "" {
			kind = bot.OutAgent // the page shows agents' replies as the live transcript does
		}
		out[i] = entryJSON{ID: "archived-" + strconv.Itoa(i+1), Dir: e.Dir, Kind: kind, Agent: e.Agent, Intent: e.Intent,
			Text: e.Text, At: timePtr(e.At), Image: c.link(e.Media)}
	}
	return out
}

// archivedEventJSON is an archived event for the page: type, at, and its fields.
type archivedEventJSON struct {
	Type   string            `json:"type"`
	At     time.Time         `json:"at"`
	Fields map[string]string `json:"fields"`
}

// mayRead tells whether the agent may read the archived conversation r.
func (c *Console) mayRead(ctx context.Context, s *session, r archive.Result) (bool, error) {
	if s.supervisor() || (r.Group != "" && slices.Contains(s.agent.Groups, r.Group)) {
		return true, nil
	}
	if r.Group != "" {
		return false, nil
	}
	// The bot's own conversation: readable while the agent serves its
	// customer.
	held, err := c.deps.Queue.Held(ctx, s.agent.ID)
	if err != nil {
		return false, err
	}
	for _, h := range held {
		if customerOf(h.Conv) == r.Customer {
			return true, nil
		}
	}
	return false, nil
}

// archived is one archived conversation, read-only: its summary, its
// transcript and its events.
//
//	GET archive/convs/{id}
func (c *Console) archived(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	aid := r.PathValue("id")
	if c.deps.Archive == nil {
		c.fail(w, r, errArchiveOff)
		return
	}
	sum, err := c.deps.Archive.Conversation(ctx, aid)
	if errors.Is(err, archive.ErrNotFound) {
		if !s.supervisor() {
			err = errOtherGroup // do not tell agents which conversations exist
		} else {
			err = fmt.Errorf("%s: %w", aid, ErrNotFound)
		}
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ok, err := c.mayRead(ctx, s, sum)
	if err == nil && !ok {
		err = errOtherGroup
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	t, err := c.deps.Archive.Show(ctx, aid)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	evs := make([]archivedEventJSON, 0, len(t.Events))
	for _, e := range t.Events {
		evs = append(evs, archivedEventJSON{Type: e.Type, At: e.At, Fields: nonNilMap(e.Fields)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"conv": toResultJSON(sum), "transcript": c.archivedEntries(t), "events": evs})
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// fromArchive answers GET convs/{id} for a conversation whose Redis keys
// are gone (expired after retention.redis): its newest archived episode,
// read-only, marked archived. ok false: the archive has nothing the agent
// may read (the caller answers as before).
func (c *Console) fromArchive(w http.ResponseWriter, r *http.Request, s *session, thread string) bool {
	ctx := r.Context()
	if c.deps.Archive == nil {
		return false
	}
	groups := c.allowedGroups(s)
	res, err := c.deps.Archive.Search(ctx, archive.Query{Customer: customerOf(thread), Groups: groups, Limit: archive.MaxLimit})
	if err != nil {
		c.log.WarnContext(ctx, "console: archive", "conv", thread, "err", err)
		return false
	}
	for _, sum := range res.Results {
		if th, _, _ := conv.SplitArchiveID(sum.Conv); th != thread {
			continue
		}
		t, err := c.deps.Archive.Show(ctx, sum.Conv)
		if err != nil {
			c.log.WarnContext(ctx, "console: archive", "conv", sum.Conv, "err", err)
			return false
		}
		cv := convJSON{ID: thread, Channel: sum.Channel, User: strings.TrimPrefix(thread, sum.Channel+":"), Mode: conv.ModeClosed,
			Group: sum.Group, Agent: sum.Agent, Entities: nonNil(entitiesOf(t)), Guesses: []guessJSON{},
			Created: timePtr(sum.Started), Updated: sum.Ended}
		writeJSON(w, http.StatusOK, map[string]any{"conv": cv, "mine": false, "archived": toResultJSON(sum),
			"transcript": c.archivedEntries(t)})
		return true
	}
	return false
}

// entitiesOf lists the numbers the archived conversation's customer
// messages carried (type "number": the archive keeps the values only).
func entitiesOf(t archive.Transcript) []intents.Entity {
	var out []intents.Entity
	seen := map[string]bool{}
	for _, e := range t.Events {
		for _, v := range strings.Fields(e.Fields[conv.EvEntities]) {
			if !seen[v] {
				seen[v] = true
				out = append(out, intents.Entity{Type: "number", Value: v})
			}
		}
	}
	return out
}
