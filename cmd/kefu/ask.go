package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kefu-dev/kefu/intents"
)

func cmdAsk(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ask", flag.ContinueOnError)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	text := strings.Join(pos, " ")
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("ask: give the customer's message, e.g. kefu ask 快递到哪了")
	}
	m, err := c.matcher()
	if err != nil {
		return err
	}
	r := m.Match(text)
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printResult(out, m, r)
	return nil
}

func printResult(out io.Writer, m *intents.Matcher, r intents.Result) {
	fmt.Fprintf(out, "decision:   %s", r.Action)
	switch r.Action {
	case intents.ActionAnswer:
		fmt.Fprintf(out, " %s", r.Intent)
	case intents.ActionClarify:
		fmt.Fprintf(out, " %s", strings.Join(r.Choices, ", "))
	case intents.ActionHandoff:
		fmt.Fprintf(out, " (reason: %s", r.Reason)
		if r.Intent != "" {
			fmt.Fprintf(out, ", intent: %s", r.Intent)
		}
		if r.Urgent {
			fmt.Fprint(out, ", urgent")
		}
		fmt.Fprint(out, ")")
	}
	fmt.Fprintf(out, "\nconfidence: %.3f\n", r.Confidence)
	fmt.Fprintf(out, "normalized: %s\n", r.Normalized)
	fmt.Fprintf(out, "tokens:     %s\n", strings.Join(r.Tokens, " / "))
	fmt.Fprintf(out, "language:   %s\n", r.Lang)
	if len(r.Entities) > 0 {
		var es []string
		for _, e := range r.Entities {
			es = append(es, e.Type+"="+e.Value)
		}
		fmt.Fprintf(out, "entities:   %s\n", strings.Join(es, ", "))
	}
	fmt.Fprintln(out, "top intents:")
	for i, c := range r.Candidates {
		fmt.Fprintf(out, "  %d. %-32s %.3f  (%s)\n", i+1, c.Intent, c.Score, c.Question)
	}
	if r.Action == intents.ActionAnswer {
		if in := m.FAQ().Intent(r.Intent); in != nil {
			fmt.Fprintf(out, "answer:\n  %s\n", strings.ReplaceAll(in.Answer.For("", r.Lang), "\n", "\n  "))
		}
	}
}
