package protocol

import (
	"slices"

	"github.com/aftercare/aftercare"
)

// ReasonFrequencyCap is why a text over the clinic's cap is skipped.
const ReasonFrequencyCap = "frequency cap"

// mergedReason is why a text that joined another is skipped.
func mergedReason(into *Step) string {
	return ReasonFrequencyCap + ": merged into the " + into.Title + " text"
}

// maxMergedSegments bounds a text with merged lines: one more segment than
// a step's own text may use (the patient gets one text instead of two).
const maxMergedSegments = 3

// capTexts enforces the clinic's caps on scheduled texts (out is sorted):
// on a local day with more than the daily cap, and in any 7 local days
// with more than the weekly cap, the lowest-priority text (the later one
// on a tie) gives way until the count fits. It merges into another text
// of its day that goes out before it is stale, when its step has a merge
// line, and is skipped otherwise. Red-flag texts are never capped. It
// returns the merges, by the message they join.
func capTexts(out []planned, c clock, opt Options) map[aftercare.MessageKey][]planned {
	daily := opt.DailyCap
	if daily == 0 {
		daily = aftercare.DefaultDailyTextCap
	}
	merges := map[aftercare.MessageKey][]planned{}
	live := func(lo, hi int) []int {
		var idx []int
		for i := range out {
			m := &out[i]
			if m.Channel != aftercare.SMS || m.Status != aftercare.StatusScheduled {
				continue
			}
			if d := dayNumber(c, m.SendAt); d >= lo && d <= hi {
				idx = append(idx, i)
			}
		}
		return idx
	}
	// victim picks the text that gives way among idx, or -1.
	victim := func(idx []int) int {
		v := -1
		for _, i := range idx {
			if out[i].step.RedFlags {
				continue
			}
			if v < 0 || out[i].step.Priority <= out[v].step.Priority {
				v = i
			}
		}
		return v
	}
	drop := func(i int) {
		m := &out[i]
		// A text that carried merged lines takes them with it.
		for _, g := range merges[m.Key()] {
			for j := range out {
				if out[j].Key() == g.Key() {
					out[j].Reason = ReasonFrequencyCap
				}
			}
		}
		delete(merges, m.Key())
		if m.step.merge != nil {
			day := dayNumber(c, m.SendAt)
			for _, j := range live(day, day) {
				if j != i && out[j].SendAt.Before(m.StaleAt) {
					merges[out[j].Key()] = append(merges[out[j].Key()], *m)
					m.Status, m.Reason, m.SendAt = aftercare.StatusSkipped, mergedReason(out[j].step), m.due.UTC()
					return
				}
			}
		}
		m.Status, m.Reason, m.SendAt = aftercare.StatusSkipped, ReasonFrequencyCap, m.due.UTC()
	}
	var days []int
	for _, i := range live(-1<<30, 1<<30) {
		if d := dayNumber(c, out[i].SendAt); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	if daily > 0 {
		for _, d := range days {
			for idx := live(d, d); len(idx) > daily; idx = live(d, d) {
				v := victim(idx)
				if v < 0 {
					break
				}
				drop(v)
			}
		}
	}
	if opt.WeeklyCap > 0 {
		for _, d := range days {
			for idx := live(d, d+6); len(idx) > opt.WeeklyCap; idx = live(d, d+6) {
				v := victim(idx)
				if v < 0 {
					break
				}
				drop(v)
			}
		}
	}
	return merges
}
