package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kefu-dev/kefu/tickets"
)

// ticketJSON is one ticket as `kefu tickets list --json` prints it (the
// issue's contract: keep these names). conv is the first linked
// conversation ("" when none); due is null when the ticket has none.
type ticketJSON struct {
	ID         int64   `json:"id"`
	State      string  `json:"state"`
	Priority   string  `json:"priority"`
	Department string  `json:"department"`
	Owner      string  `json:"owner"`
	Due        *string `json:"due"`
	Conv       string  `json:"conv"`
	Customer   string  `json:"customer"`
	Created    string  `json:"created"`
	Reason     string  `json:"reason"`
	Text       string  `json:"text"`
}

func toTicketJSON(t tickets.Ticket) ticketJSON {
	j := ticketJSON{ID: t.ID, State: string(t.State), Priority: t.Priority.String(), Department: t.Department,
		Owner: t.Owner, Customer: t.Customer, Created: t.Created.Format(time.RFC3339), Reason: t.Reason, Text: t.Text}
	if !t.Due.IsZero() {
		d := t.Due.Format(time.RFC3339)
		j.Due = &d
	}
	if len(t.Convs) > 0 {
		j.Conv = t.Convs[0]
	}
	return j
}

func cmdTickets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	fs := flag.NewFlagSet("tickets list", flag.ContinueOnError)
	var f archiveFlags
	f.register(fs) // --config, --data, --json
	state := fs.String("state", "", "open|pending|solved|closed (default: all)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var filter tickets.Filter
	if *state != "" {
		st, err := tickets.ParseState(*state)
		if err != nil {
			return fmt.Errorf("--state %q: want open, pending, solved or closed", *state)
		}
		filter.State = st
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	db, err := f.open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := tickets.New(db, nil).List(ctx, filter)
	if err != nil {
		return err
	}
	if f.json {
		out := struct {
			Tickets []ticketJSON `json:"tickets"`
		}{Tickets: []ticketJSON{}}
		for _, t := range list {
			out.Tickets = append(out.Tickets, toTicketJSON(t))
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPRIORITY\tDEPARTMENT\tOWNER\tDUE\tREASON\tCUSTOMER\tTEXT")
	for _, t := range list {
		j := toTicketJSON(t)
		due := ""
		if j.Due != nil {
			due = *j.Due
		}
		text := []rune(t.Text)
		if len(text) > 30 {
			text = append(text[:30], '…')
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, j.Priority, t.Department, t.Owner, due, t.Reason, t.Customer, string(text))
	}
	if len(list) == 0 {
		fmt.Fprintln(tw, "(no tickets)")
	}
	return tw.Flush()
}
