package protocol

import (
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// Summary describes a planned enrollment for clinic staff before it is
// saved: what it will send and cost, whether it is late, and what will be
// skipped and why.
type Summary struct {
	// Texts and Emails are the scheduled messages on each channel.
	Texts  int `json:"texts"`
	Emails int `json:"emails"`
	// Segments is what the scheduled texts cost in SMS segments;
	// UnicodeTexts of them go as UCS-2 (a name outside GSM-7).
	Segments     int `json:"segments"`
	UnicodeTexts int `json:"unicode_texts"`
	// Late is set when the enrollment comes more than an hour after the
	// treatment and steps are skipped for it; LateBy says by how much
	// ("30 hours", "5 days").
	Late   bool   `json:"late"`
	LateBy string `json:"late_by,omitempty"`
	// Skipped lists the messages that will not be sent, with the reason.
	Skipped []Skip `json:"skipped"`
	// Notes are plain sentences for staff: lateness first, then the
	// skipped steps by reason.
	Notes []string `json:"notes"`
}

// Skip is one message of a plan that will not be sent.
type Skip struct {
	Step       string            `json:"step"`
	Title      string            `json:"title"`
	Channel    aftercare.Channel `json:"channel"`
	Occurrence int               `json:"occurrence,omitempty"`
	Reason     string            `json:"reason"`
}

// TextCost is what one text costs: its SMS segments and whether it goes
// as UCS-2 ("ucs-2") or GSM-7 ("gsm-7").
func TextCost(m aftercare.Message) (segments int, encoding string) {
	if m.Channel != aftercare.SMS {
		return 0, ""
	}
	n, unicode := Segments(m.Body)
	if unicode {
		return n, "ucs-2"
	}
	return n, "gsm-7"
}

// Summarize describes a plan made at now for a treatment at treated.
// Steps are named by their titles.
func (p *Protocol) Summarize(msgs []aftercare.Message, treated, now time.Time) Summary {
	s := Summary{Skipped: []Skip{}, Notes: []string{}}
	byReason := map[string][]string{}
	var reasons []string
	timingSkips, lateText := 0, false
	for _, m := range msgs {
		title := m.Step
		if st, ok := p.Step(m.Step); ok {
			title = st.Title
			lateText = lateText || st.When.Late && m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled
		}
		switch m.Status {
		case aftercare.StatusScheduled:
			if m.Channel == aftercare.SMS {
				n, enc := TextCost(m)
				s.Texts++
				s.Segments += n
				if enc == "ucs-2" {
					s.UnicodeTexts++
				}
			} else {
				s.Emails++
			}
		case aftercare.StatusSkipped:
			s.Skipped = append(s.Skipped, Skip{Step: m.Step, Title: title, Channel: m.Channel, Occurrence: m.Occurrence, Reason: m.Reason})
			if strings.HasPrefix(m.Reason, "stale") || m.Reason == reasonCoveredByLate {
				timingSkips++
			}
			label := strings.ToLower(title)
			if m.Occurrence > 0 {
				label += fmt.Sprintf(" day %d", m.Occurrence)
			}
			label += " (" + channelWord(m.Channel) + ")"
			if _, ok := byReason[m.Reason]; !ok {
				reasons = append(reasons, m.Reason)
			}
			byReason[m.Reason] = append(byReason[m.Reason], label)
		}
	}
	if since := now.Sub(treated); since > time.Hour && timingSkips > 0 {
		s.Late, s.LateBy = true, ago(since)
		note := fmt.Sprintf("Late enrollment: the treatment was %s ago. %d %s will not be sent because %s time has passed or the late start covers %s (listed below).",
			s.LateBy, timingSkips, plural(timingSkips, "message", "messages"), plural(timingSkips, "its", "their"), plural(timingSkips, "it", "them"))
		if lateText {
			note += " The first text is a late start: it names the warning signs and the clinic's phone, and says only what still applies that day."
		}
		s.Notes = append(s.Notes, note)
	}
	for _, r := range reasons {
		s.Notes = append(s.Notes, fmt.Sprintf("Not sent (%s): %s.", r, strings.Join(byReason[r], ", ")))
	}
	return s
}

func channelWord(ch aftercare.Channel) string {
	if ch == aftercare.SMS {
		return "text"
	}
	return string(ch)
}

// ago says a duration the way staff would: "50 minutes", "30 hours", "5
// days".
func ago(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
