package protocol

import (
	"sync"
	"time"

	"github.com/aftercare/aftercare"
)

// Volume is how many messages the protocol sends one enrollment: what the
// consent wording promises, computed by planning rather than counted by
// hand so the promise stays true when the protocol changes.
type Volume struct {
	// Texts and Emails are the most scheduled for one enrollment, over
	// every case Volume plans (first or last session, texts only or both
	// channels, enrolled at any time up to 60 days late), leaving out a
	// finished series' monthly reminders.
	Texts, Emails int
	// Weeks is how long those messages last after enrollment, in weeks
	// (rounded).
	Weeks int
	// MaxTextsPerDay is the most texts scheduled on one local day, with
	// the highest daily cap a clinic may set (aftercare.MaxDailyTextCap).
	MaxTextsPerDay int
	// LaterMonths is when a finished series' reminder comes (0 for none).
	LaterMonths int
}

// Volume plans a set of enrollments and reports the most messages any of
// them gets. Quiet hours are the default ones. It is computed once per
// protocol.
func (p *Protocol) Volume() Volume {
	p.volume.once.Do(func() { p.volume.v = p.countVolume() })
	return p.volume.v
}

func (p *Protocol) countVolume() Volume {
	var v Volume
	for _, s := range p.steps {
		if s.at.kind == onMonth && s.at.n > v.LaterMonths {
			v.LaterMonths = s.at.n
		}
	}
	loc := time.UTC
	treated := time.Date(2026, 6, 9, 10, 0, 0, 0, loc)
	// Enrollment delays: on time, then every hour for three days, then
	// every six hours up to the 60 days the API allows.
	var delays []time.Duration
	for h := 0; h < 72; h++ {
		delays = append(delays, time.Duration(h)*time.Hour)
	}
	for h := 72; h <= 60*24; h += 6 {
		delays = append(delays, time.Duration(h)*time.Hour)
	}
	for _, clock := range []int{8, 17, 23} {
		treated := time.Date(treated.Year(), treated.Month(), treated.Day(), clock, 30, 0, 0, loc)
		for _, session := range []int{1, 3} {
			for _, emailOK := range []bool{true, false} {
				in := Input{
					Enrollment: aftercare.Enrollment{TreatedAt: treated, SessionNumber: session, SeriesLength: 3},
					Patient:    aftercare.Patient{FirstName: "A", Phone: "+14155550100", Email: "a@example.com", Timezone: "UTC"},
					Clinic:     aftercare.Clinic{Name: "C", Phone: "+14155550123"},
					SMSConsent: true, EmailConsent: emailOK,
				}
				for _, d := range delays {
					msgs, err := p.plan(in, Options{DailyCap: aftercare.MaxDailyTextCap}, treated.Add(d), false)
					if err != nil {
						continue
					}
					texts, emails, perDay := 0, 0, map[string]int{}
					for _, m := range msgs {
						if m.Status != aftercare.StatusScheduled {
							continue
						}
						if s, _ := p.Step(m.Step); s.at.kind == onMonth {
							continue
						}
						if m.Channel == aftercare.SMS {
							texts++
							day := m.SendAt.In(loc).Format(time.DateOnly)
							perDay[day]++
							v.MaxTextsPerDay = max(v.MaxTextsPerDay, perDay[day])
						} else {
							emails++
						}
						days := m.SendAt.Sub(treated.Add(d)).Hours() / 24
						v.Weeks = max(v.Weeks, int(days/7+0.5))
					}
					v.Texts, v.Emails = max(v.Texts, texts), max(v.Emails, emails)
				}
			}
		}
	}
	return v
}

// volumeOnce holds a protocol's Volume once computed.
type volumeOnce struct {
	once sync.Once
	v    Volume
}
