// Package logmask is a safety net under aftercare's rule that logs carry
// ids, never phone numbers or email addresses: a slog.Handler wrapper that
// masks anything that looks like either (with notify.Mask) in every log
// message and string attribute, at every level, before it reaches the real
// handler. Errors and Stringers are masked too, since provider errors quote
// addresses ("550 <ana@example.com>: no such user").
package logmask

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"

	"github.com/aftercare/aftercare/notify"
)

// Handler masks personal data in records before passing them on.
type Handler struct {
	next slog.Handler
}

// Wrap returns h wrapped in a masking handler (h itself if it already
// masks).
func Wrap(h slog.Handler) slog.Handler {
	if _, ok := h.(*Handler); ok {
		return h
	}
	return &Handler{next: h}
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle masks the record's message and attributes and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, maskAttr(a))
		return true
	})
	out.AddAttrs(attrs...)
	return h.next.Handle(ctx, out)
}

// WithAttrs masks attrs once, up front.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(masked)}
}

// WithGroup opens a group on the wrapped handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]slog.Attr, len(g))
		for i, ga := range g {
			masked[i] = maskAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, String(x.String()))
		case []byte:
			return slog.String(a.Key, String(string(x)))
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = String(s)
			}
			return slog.Any(a.Key, out)
		case nil:
		default:
			// A named string type, a struct, a map: shown as text when it
			// holds something to mask (the value had no place in a log).
			if rv := reflect.ValueOf(x); rv.Kind() == reflect.String {
				if s := rv.String(); suspicious(s) {
					return slog.String(a.Key, String(s))
				}
			} else if s := fmt.Sprintf("%+v", x); suspicious(s) {
				if m := String(s); m != s {
					return slog.String(a.Key, m)
				}
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

var (
	// An email address: local part, @, a dotted domain.
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// A phone number: "+" then digits with the usual separators (E.164 and
	// its formatted forms), a bare run of 10-15 digits, or a North American
	// 3-3-4 grouping. Digit counts are checked in phone().
	phoneRe = regexp.MustCompile(`\+\d[\d ().\-]{5,22}\d|\b\d{10,15}\b|\b\d{3}[ .\-]\d{3}[ .\-]\d{4}\b`)
)

// careLinkRe is a patient page path: "/c/" and a token (the link is the
// key to the page, so it never goes into a log).
var careLinkRe = regexp.MustCompile(`/c/[A-Za-z0-9_\-]{16,}`)

// Path masks a patient page token in a URL path ("/c/<token>/book" becomes
// "/c/[link]/book").
func Path(p string) string {
	if !strings.Contains(p, "/c/") {
		return p
	}
	return careLinkRe.ReplaceAllString(p, "/c/[link]")
}

// String masks every email address, phone number and patient page link
// in s.
func String(s string) string {
	s = Path(s)
	if !suspicious(s) {
		return s
	}
	s = emailRe.ReplaceAllStringFunc(s, notify.Mask)
	return phoneRe.ReplaceAllStringFunc(s, phone)
}

// phone masks a phone-like match that has at least 7 digits (shorter runs
// are codes, counts or years, not numbers someone can be reached at).
func phone(m string) string {
	if digits(m) < 7 {
		return m
	}
	return notify.Mask(m)
}

// suspicious is a cheap pre-check: an "@" or at least 7 digits.
func suspicious(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@':
			return true
		case c >= '0' && c <= '9':
			n++
			if n >= 7 {
				return true
			}
		}
	}
	return false
}

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}
