package protocol

import (
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

func BenchmarkPlan(b *testing.B) {
	p := setup(b)
	treated := time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC)
	in := input("America/New_York", treated)
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := p.Plan(in, Options{}, treated)
		if err != nil || len(msgs) != 26 {
			b.Fatalf("Plan: %d messages, %v", len(msgs), err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	p := setup(b)
	d := longData()
	for _, bc := range []struct {
		step string
		ch   aftercare.Channel
	}{
		{"welcome", aftercare.SMS},
		{"welcome", aftercare.Email},
	} {
		b.Run(bc.step+"/"+string(bc.ch), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Render(bc.step, bc.ch, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(defaultYAML); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSegments(b *testing.B) {
	s := longData().Reply
	b.ReportAllocs()
	for b.Loop() {
		Segments(s)
	}
}
