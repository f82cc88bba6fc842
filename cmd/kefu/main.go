// Command kefu is the customer-service gateway and its tools for editors and
// operators. Run `kefu help` for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `kefu: customer-service gateway for online shops

Usage:
  kefu serve [--config FILE] [--addr HOST:PORT] [--faq DIR] [--data DIR]
                                              run the gateway (web chat at /); --data: the embedded archive's folder
  kefu archive search [--config F] [--data DIR] [--json] [--customer ID] [--agent ID] [--channel C]
                      [--entity VALUE] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [WORDS...]
                                              find archived conversations, newest first
  kefu archive show [--config F] [--data DIR] [--json] CONV   one archived conversation, whole
  kefu archive export --customer ID           everything kept about one customer, as JSON
  kefu archive purge --customer ID            delete it everywhere, Redis included (needs REDIS_URL for Redis)
  kefu report [--config F] [--data DIR] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
              [--by day|week|month|hour|channel|group|agent|intent] [--format table|csv|json]
                                              service figures from the archive's rollups (README, "Reports")
  kefu tickets list [--config F] [--data DIR] [--state open|pending|solved|closed] [--json]
                                              the tickets in the archive, newest first
  kefu bench archive --redis URL [--dsn DSN] [--events N] [--archivers K]
                                              archiver throughput, events/s into SQLite or PostgreSQL
  kefu bench retention --redis URL [--convs N]   Redis used_memory of closed conversations, with and without retention
  kefu bench web [--url URL] [--customers N] [--messages N]   load the web chat's JSON API
  kefu bench peak --redis URL [--customers N] [--waiting N] [--agents N] [--rate R] [--duration D]
                                              a 双11 peak on a real redis-server (see BENCHMARKS.md)
  kefu bench search --dsn DSN [--generate N --texts FILE,…] [--queries N]
                                              archive search p50/p95 (see BENCHMARKS.md)
  kefu bench report --dsn DSN [--generate N] [--days 90] [--runs 20]
                                              reports by day and agent over generated conversations (see BENCHMARKS.md)
  kefu ask [--faq DIR] [--json] TEXT          what the bot makes of one message, and why
  kefu web revoke [--config FILE] VISITOR...  refuse every token of web visitors (needs REDIS_URL)
  kefu faq lint [--config F] [DIR]            check FAQ files and canned replies; every problem with file:line:column
  kefu faq test [DIR]                         run the FAQ folder's editor tests (tests.yaml)
  kefu faq gaps [--config F] [--data DIR] [--from] [--to] [--json]
                                              what customers asked that the bot did not answer well, clustered
  kefu replay [--config F] [--data DIR] [--faq DIR] [--answer-threshold T] [--clarify-threshold T]
              [--from] [--to] [--json]        re-decide archived first messages with an FAQ folder and thresholds
  kefu eval cases [--faq DIR] [--json] FILE   decisions on labelled cases (text<TAB>expected)
  kefu eval pairs [--threshold T] [--json] FILE   sentence-pair similarity accuracy (CSV)
  kefu eval thresholds [--faq DIR] FILE       right/wrong rates on labelled cases over a threshold grid
  kefu eval fit similarity FILE               refit the similarity coefficients on sentence pairs (CSV)
  kefu eval fit confidence [--cases FILE] [--cases-weight N] FILE
                                              refit the confidence coefficients (FILE: out-of-scope pairs)

Common flags: --config FILE (YAML), --faq DIR (default: the embedded sample FAQ),
--dict DIR (gojieba dictionaries; default: bundled).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a process exit code through run.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(stderr, "kefu:", err)
	return 1
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	sub := func(name string) string {
		if len(args) > 1 {
			return args[1]
		}
		return ""
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "bench":
		switch sub("bench") {
		case "web":
			return cmdBenchWeb(ctx, args[2:], stdout, stderr)
		case "peak":
			return cmdBenchPeak(ctx, args[2:], stdout, stderr)
		case "archive":
			return cmdBenchArchive(ctx, args[2:], stdout, stderr)
		case "retention":
			return cmdBenchRetention(ctx, args[2:], stdout, stderr)
		case "search":
			return cmdBenchSearch(ctx, args[2:], stdout, stderr)
		case "report":
			return cmdBenchReport(ctx, args[2:], stdout, stderr)
		}
	case "archive":
		return cmdArchive(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(ctx, args[1:], stdout)
	case "tickets":
		return cmdTickets(ctx, args[1:], stdout, stderr)
	case "ask":
		return cmdAsk(args[1:], stdout)
	case "web":
		if sub("web") == "revoke" {
			return cmdWebRevoke(ctx, args[2:], stdout)
		}
	case "faq":
		switch sub("faq") {
		case "lint":
			return cmdFAQLint(args[2:], stdout)
		case "test":
			return cmdFAQTest(args[2:], stdout)
		case "gaps":
			return cmdFAQGaps(ctx, args[2:], stdout)
		}
	case "replay":
		return cmdReplay(ctx, args[1:], stdout)
	case "eval":
		switch sub("eval") {
		case "cases":
			return cmdEvalCases(args[2:], stdout)
		case "pairs":
			return cmdEvalPairs(args[2:], stdout)
		case "thresholds":
			return cmdEvalThresholds(args[2:], stdout)
		case "fit":
			return cmdEvalFit(args[2:], stdout)
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return exitError{2}
}
