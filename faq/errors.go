package faq

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every load error caused by the FAQ's content
// (as opposed to an I/O error).
var ErrInvalid = errors.New("invalid faq")

// Problem is one mistake in a FAQ file, at a position an editor can jump to.
type Problem struct {
	Pos Pos
	Msg string
}

func (p Problem) String() string {
	switch {
	case p.Pos.File == "":
		return p.Msg
	case p.Pos.Line == 0:
		return fmt.Sprintf("%s: %s", p.Pos.File, p.Msg)
	case p.Pos.Column == 0:
		return fmt.Sprintf("%s:%d: %s", p.Pos.File, p.Pos.Line, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.Pos.File, p.Pos.Line, p.Pos.Column, p.Msg)
}

// Problems is every problem found in one load, in file and line order.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "faq has %d problem(s):", len(ps))
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) recognise content problems.
func (ps Problems) Unwrap() error { return ErrInvalid }
