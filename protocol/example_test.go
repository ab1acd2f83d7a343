package protocol_test

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/protocol"
)

func ExampleProtocol_Plan() {
	p, err := protocol.Default()
	if err != nil {
		panic(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 6, 9, 16, 30, 0, 0, ny)
	in := protocol.Input{
		Enrollment: aftercare.Enrollment{ID: 1, ClinicID: 1, PatientID: 1, TreatedAt: treated, SessionNumber: 3, SeriesLength: 3},
		Patient:    aftercare.Patient{FirstName: "Maya", Phone: "+14155550100", Timezone: "America/New_York"},
		Clinic:     aftercare.Clinic{Name: "Glow Clinic", Phone: "+14155550123"},
		SMSConsent: true, EmailConsent: true, // but no email address: emails are skipped
	}
	msgs, err := p.Plan(in, protocol.Options{}, treated.Add(10*time.Minute))
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		if m.Step == "sunscreen" && m.Occurrence > 2 && m.Occurrence < 14 {
			continue // days 3 to 13 look the same
		}
		line := fmt.Sprintf("%s  %-19s %2d %-5s %s %s", m.SendAt.In(ny).Format("Mon Jan _2 15:04"), m.Step, m.Occurrence, m.Channel, m.Status, m.Reason)
		fmt.Println(strings.TrimSpace(line))
	}
	fmt.Println(msgs[0].Body)
	// Output:
	// Tue Jun  9 16:40  welcome              0 sms   scheduled
	// Tue Jun  9 16:40  welcome              0 email skipped no email address
	// Tue Jun  9 20:00  evening_care         0 sms   scheduled
	// Wed Jun 10 08:30  sunscreen            1 sms   scheduled
	// Wed Jun 10 09:00  day1_checkin         0 sms   scheduled
	// Thu Jun 11 08:30  sunscreen            2 sms   scheduled
	// Thu Jun 11 16:30  makeup_ok            0 sms   scheduled
	// Fri Jun 12 09:00  dryness              0 sms   scheduled
	// Tue Jun 16 10:00  reintroduce_actives  0 sms   scheduled
	// Tue Jun 16 10:00  reintroduce_actives  0 email skipped no email address
	// Tue Jun 23 08:30  sunscreen           14 sms   scheduled
	// Tue Jun 23 10:00  back_to_routine      0 email skipped no email address
	// Tue Jun 23 10:00  back_to_routine      0 sms   scheduled
	// Wed Dec  9 11:00  maintenance          0 email skipped no email address
	// Wed Dec  9 11:00  maintenance          0 sms   scheduled
	// Glow Clinic: Hi Maya, redness and swelling are normal for 2-3 days. Today: cool water only; no makeup, sweat or sun. Call +14155550123 for bad swelling, pain that won't ease, pus, fever, hives, bleeding that won't stop or discoloration. Reply STOP to opt out.
}

// An enrollment entered 30 hours after the treatment: the welcome text is
// stale, so the first text is the late start, which names the red flags and
// says only what still applies; the full guide still goes by email.
func ExampleProtocol_Plan_late() {
	p, err := protocol.Default()
	if err != nil {
		panic(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 24, 10, 0, 0, 0, ny)
	in := protocol.Input{
		Enrollment: aftercare.Enrollment{ID: 1, ClinicID: 1, PatientID: 1, TreatedAt: treated, SessionNumber: 1, SeriesLength: 3},
		Patient:    aftercare.Patient{FirstName: "Maya", Phone: "+14155550100", Email: "maya@example.com", Timezone: "America/New_York"},
		Clinic:     aftercare.Clinic{Name: "Glow Clinic", Phone: "+14155550123"},
		SMSConsent: true, EmailConsent: true,
	}
	msgs, err := p.Plan(in, protocol.Options{}, treated.Add(30*time.Hour))
	if err != nil {
		panic(err)
	}
	for _, m := range msgs[:6] {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s  %-13s %-5s %s %s", m.SendAt.In(ny).Format("Mon Jan _2 15:04"), m.Step, m.Channel, m.Status, m.Reason)))
	}
	fmt.Println(msgs[0].Body)
	// Output:
	// Wed Nov 25 16:00  late_start    sms   scheduled
	// Wed Nov 25 16:00  welcome       sms   skipped stale: enrolled after the step's window closed
	// Wed Nov 25 16:00  welcome       email scheduled
	// Wed Nov 25 16:00  day1_checkin  sms   skipped covered by the late-start text the same day, which names the warning signs and what still applies
	// Wed Nov 25 16:00  sunscreen     sms   skipped stale: enrolled after the step's window closed
	// Thu Nov 26 08:30  sunscreen     sms   scheduled
	// Glow Clinic: Maya, since your Tue 24 Nov treatment: still no makeup, sweat, pools, saunas, ibuprofen or ice. Call +14155550123 for bad swelling, pain that won't ease, pus, fever, hives, bleeding that won't stop or discoloration. Reply STOP to opt out.
}
