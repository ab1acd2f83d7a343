// Package console is the notifier used when no delivery provider is
// configured: instead of texting or emailing, it writes one line per
// message to a writer (standard output by default), as readable text or as
// JSON lines. Recipients are masked with notify.Mask; the message body is
// printed, since showing it is the point.
package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare/notify"
)

// Output formats for New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// maxTextBody is how many characters of a body a text line shows.
const maxTextBody = 160

// Sender writes messages to a writer instead of delivering them. It is safe
// for concurrent use; each message is written with a single Write call.
type Sender struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	clock func() time.Time
}

// New returns a Sender writing to w in format "text" (the default) or
// "json" (also "jsonl": one JSON object per line). clock stamps each line;
// nil means time.Now.
func New(w io.Writer, format string, clock func() time.Time) *Sender {
	if clock == nil {
		clock = time.Now
	}
	f := strings.ToLower(strings.TrimSpace(format))
	return &Sender{w: w, json: f == FormatJSON || f == "jsonl", clock: clock}
}

// Send writes m and returns "console-{id}" as its provider id. It fails,
// transiently, only if the context is done or the writer fails.
func (s *Sender) Send(ctx context.Context, m notify.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &notify.Error{Kind: notify.Transient, Reason: "console: " + err.Error(), Err: err}
	}
	id := "console-" + strconv.FormatInt(m.ID, 10)
	at := s.clock().UTC()
	var line []byte
	if s.json {
		line = jsonLine(m, id, at)
	} else {
		line = textLine(m, at)
	}
	s.mu.Lock()
	_, err := s.w.Write(line)
	s.mu.Unlock()
	if err != nil {
		return "", &notify.Error{Kind: notify.Transient, Reason: "console: write failed", Err: fmt.Errorf("write console line: %w", err)}
	}
	return id, nil
}

// textLine renders m as e.g.
//
//	2026-11-25T09:00:00Z SMS   to +1415*****23 [sunscreen] msg=42 "Apply SPF 50…"
func textLine(m notify.Message, at time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %-5s to %s [%s] msg=%d", at.Format(time.RFC3339), strings.ToUpper(string(m.Channel)), notify.Mask(m.To), m.Step, m.ID)
	if m.Attempt > 1 {
		fmt.Fprintf(&b, " attempt=%d", m.Attempt)
	}
	if m.Subject != "" {
		fmt.Fprintf(&b, " subject=%q", m.Subject)
	}
	for _, a := range m.Attachments {
		fmt.Fprintf(&b, " attachment=%q", a.Name)
	}
	body := m.Body
	if body == "" {
		body = m.HTMLBody
	}
	fmt.Fprintf(&b, " %q\n", truncate(body, maxTextBody))
	return b.Bytes()
}

type jsonMessage struct {
	ID          int64     `json:"id"`
	ProviderID  string    `json:"provider_id"`
	Channel     string    `json:"channel"`
	Step        string    `json:"step"`
	Attempt     int       `json:"attempt,omitempty"`
	To          string    `json:"to"`
	Subject     string    `json:"subject,omitempty"`
	Body        string    `json:"body"`
	HTMLBody    string    `json:"html_body,omitempty"`
	Attachments []string  `json:"attachments,omitempty"`
	SentAt      time.Time `json:"sent_at"`
}

func jsonLine(m notify.Message, id string, at time.Time) []byte {
	v := jsonMessage{
		ID: m.ID, ProviderID: id, Channel: string(m.Channel), Step: m.Step, Attempt: m.Attempt,
		To: notify.Mask(m.To), Subject: m.Subject, Body: m.Body, HTMLBody: m.HTMLBody, SentAt: at,
	}
	for _, a := range m.Attachments {
		v.Attachments = append(v.Attachments, a.Name)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // cannot fail: plain strings, ints and a time; Encode adds "\n"
	return b.Bytes()
}

// truncate shortens s to n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}
