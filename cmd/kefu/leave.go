package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/channels/telegram"
	"github.com/kefu-dev/kefu/channels/wechat"
	"github.com/kefu-dev/kefu/tickets"
)

// leaveTaker records the messages customers leave while nobody can answer
// as tickets in the archive (bot.MessageTaker): department
// tickets.message_department (default handoff.default_group), due
// tickets.message_due after it was left, counted in business hours when
// the service levels are (handoff.sla.business_hours).
type leaveTaker struct{ s *server }

var _ bot.MessageTaker = leaveTaker{}

var errNoTickets = errors.New("the tickets are not open (the archive is not open yet)")

func (l leaveTaker) TakeMessage(ctx context.Context, m bot.LeftMessage) (int64, time.Time, error) {
	s := l.s
	if s.tickets == nil {
		return 0, time.Time{}, errNoTickets
	}
	cfg := s.cfg
	dept := cfg.Tickets.MessageDepartment
	if dept == "" {
		dept = cfg.Handoff.DefaultGroup
	}
	now := s.now()
	due := now.Add(cfg.Tickets.MessageDue)
	if cfg.Handoff.SLA.BusinessHours {
		due = s.queue.AddOpen(now, cfg.Tickets.MessageDue)
	}
	t, _, err := s.tickets.Create(ctx, tickets.NewTicket{Source: m.Source, Priority: m.Priority, Owner: dept, Department: dept,
		Due: due, Reason: tickets.ReasonLeaveMessage, Text: m.Text, Customer: m.Customer, Contact: m.Contact,
		Convs: []string{m.Conv}, By: "customer"})
	if err != nil {
		return 0, time.Time{}, err
	}
	return t.ID, t.Due, nil
}

func (l leaveTaker) AddToMessage(ctx context.Context, ticket int64, key, text, contact string) error {
	if l.s.tickets == nil {
		return errNoTickets
	}
	_, _, err := l.s.tickets.AddCustomerText(ctx, ticket, key, text, contact)
	return err
}

// startTicketNotices starts telling customers of their solved tickets
// (every instance polls; each solve is told once).
func (s *server) startTicketNotices() {
	host, _ := os.Hostname()
	s.ticketNotices = &tickets.Notifier{Store: s.tickets, Tell: s.tellSolved, Log: s.log,
		Claimer: fmt.Sprintf("%s/%d", host, os.Getpid())}
	s.tickets.OnSolve(s.ticketNotices.Kick)
	s.ticketNotices.Start()
}

// tellSolved tells a ticket's customer on their channel that it is solved
// (the web chat: in the transcript, shown on the next visit and pushed to
// an open page; Telegram: a message; WeChat: the customer-service API
// within its 48-hour window), then surveys them. A customer the channel
// cannot reach (WeChat's window closed, the Telegram bot blocked, the
// conversation gone) is not: the ticket gets a note for the agents with the
// phone number the customer left.
func (s *server) tellSolved(ctx context.Context, t tickets.Ticket) (string, error) {
	if t.Customer == "" {
		return "no customer", nil
	}
	channel, _, _ := strings.Cut(t.Customer, ":")
	out, err := s.engine.TellSolved(ctx, t.Customer, t.ID)
	if errors.Is(err, redis.Nil) {
		return s.unreachable(ctx, t, channel, "gone", s.cfg.Tickets.Notes.Unreachable)
	}
	if err != nil {
		return "", err
	}
	err = s.deliver(ctx, out)
	switch {
	case errors.Is(err, wechat.ErrWindowClosed):
		return s.unreachable(ctx, t, channel, "wechat_window", s.cfg.Tickets.Notes.WeChatWindow)
	case errors.Is(err, telegram.ErrBlocked):
		return s.unreachable(ctx, t, channel, "blocked", s.cfg.Tickets.Notes.Blocked)
	case err != nil:
		return s.unreachable(ctx, t, channel, "refused", s.cfg.Tickets.Notes.Unreachable)
	}
	survey, err := s.engine.Survey(ctx, t.Customer)
	if err != nil {
		return "", err
	}
	if err := s.deliver(ctx, survey); err != nil {
		return channel + " (survey not delivered)", nil
	}
	return channel, nil
}

// unreachable writes the agents' note on a ticket whose customer cannot be
// told, and returns the notice's outcome.
func (s *server) unreachable(ctx context.Context, t tickets.Ticket, channel, why, note string) (string, error) {
	contact := t.Contact
	if contact == "" {
		contact = s.cfg.Tickets.Notes.NoContact
	}
	if _, err := s.tickets.AddNote(ctx, t.ID, "system", strings.ReplaceAll(note, "{contact}", contact)); err != nil {
		return "", err
	}
	return "unreachable: " + channel + " " + why, nil
}
