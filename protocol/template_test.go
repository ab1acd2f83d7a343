package protocol

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

// longData is a long-ish patient and clinic: the worst case a text must fit.
func longData() Data {
	return Data{
		FirstName:     "Maximiliana-Josefina", // 20
		PatientName:   "Maximiliana-Josefina Van Der Berg-Smith",
		PatientPhone:  "+14155550100",
		ClinicName:    "Riverside Aesthetics and Laser Centre NY", // 40
		ClinicPhone:   "+14155550123",
		BookingURL:    "https://book.riverside-aesthetics.com/ab", // 40
		SessionNumber: 1, SeriesLength: 3, NextSession: 2,
		TreatedDate: "Wednesday, September 30", TreatedDay: "Wed 30 Sep", Day: 14, EmailOK: true,
		treatedOn: civilDate{2026, 9, 30},
		Reply:     strings.Repeat("my face is really swollen and it hurts ", 5),
	}
}

// Every shipped text fits in two GSM-7 segments with a 40-character clinic
// name and a 20-character first name, even carrying the opt-out notice, on
// any day it may go out (late_start says something different each day),
// and uses only GSM-7 characters.
func TestShippedTextsFitTwoSegments(t *testing.T) {
	t.Parallel()
	p := setup(t)
	base := longData()
	if len(base.FirstName) != 20 || len(base.ClinicName) != 40 || len(base.BookingURL) != 40 {
		t.Fatalf("sample lengths %d/%d/%d", len(base.FirstName), len(base.ClinicName), len(base.BookingURL))
	}
	variants := map[string]func(*Data){
		"email ok":    func(*Data) {},
		"no email":    func(d *Data) { d.EmailOK = false },
		"no booking":  func(d *Data) { d.BookingURL = "" },
		"last of six": func(d *Data) { d.SessionNumber, d.SeriesLength, d.NextSession, d.SeriesFinished = 6, 6, 0, true },
	}
	check := func(t *testing.T, name, text string) {
		t.Helper()
		n, unicode := Segments(text)
		if unicode {
			t.Errorf("%s is not GSM-7 (%q)", name, text)
		}
		if n > 2 {
			t.Errorf("%s takes %d segments (%d characters): %q", name, n, len(text), text)
		}
	}
	for vname, edit := range variants {
		d := base
		edit(&d)
		for _, s := range p.Steps() {
			if !slices.Contains(s.Channels, aftercare.SMS) {
				continue
			}
			for day := 0; day <= 61; day++ {
				d.DaysSince = day
				c, err := p.Render(s.Key, aftercare.SMS, d)
				if err != nil {
					t.Fatal(err)
				}
				// Any text may be the first one sent and carry the notice.
				check(t, fmt.Sprintf("%s %s (day %d)", vname, s.Key, day), c.Text+" "+p.OptOutNotice)
			}
		}
		for _, kind := range ReplyKinds {
			c, err := p.RenderReply(kind, aftercare.SMS, d)
			if err != nil {
				t.Fatal(err)
			}
			check(t, vname+" reply "+string(kind), c.Text)
		}
	}
}

// The red flags and the clinic's phone are in the welcome text, the day 1
// check-in and the full guide.
func TestRedFlagsNamed(t *testing.T) {
	t.Parallel()
	p := setup(t)
	d := longData()
	short := []string{"swelling", "pain that won't ease", "pus", "fever", "hives", "bleeding that won't stop", "discoloration", d.ClinicPhone}
	full := []string{"excessive swelling", "intense pain that doesn't ease", "pus or a greenish-yellow discharge", "fever", "hives", "bleeding that won't stop", "skin discoloration"}
	for _, tc := range []struct {
		step string
		ch   aftercare.Channel
		want []string
	}{
		{"welcome", aftercare.SMS, short},
		{"day1_checkin", aftercare.SMS, short},
		{"late_start", aftercare.SMS, short},
		{"welcome", aftercare.Email, append(full, d.ClinicPhone)},
	} {
		for i, emailOK := range []bool{true, false, true, false, true} {
			d.EmailOK = emailOK
			d.DaysSince = []int{0, 1, 3, 5, 20}[i] // late_start differs by day
			c, err := p.Render(tc.step, tc.ch, d)
			if err != nil {
				t.Fatal(err)
			}
			// html/template writes + as &#43;, which reads the same.
			for _, part := range []string{c.Text, strings.ReplaceAll(c.HTML, "&#43;", "+")} {
				if part == "" {
					continue
				}
				for _, w := range tc.want {
					if !strings.Contains(part, w) {
						t.Errorf("%s %s lacks %q", tc.step, tc.ch, w)
					}
				}
			}
		}
	}
}

// The full guide carries the guide's facts.
func TestFullGuide(t *testing.T) {
	t.Parallel()
	p := setup(t)
	c, err := p.Render("welcome", aftercare.Email, longData())
	if err != nil {
		t.Fatal(err)
	}
	facts := []string{
		"mild sunburn", "48 to 72 hours", "Wait a few hours before washing", "cool water only", "fragrance-free cleanser",
		"Pat dry", "never rub", "hyaluronic acid", "moisturizer", "plenty of water", "No makeup for at least 24 to 48 hours",
		"sauna", "steam room", "Stay out of the sun", "wide-brimmed hat",
		"scrubs", "cleansing brushes", "retinoids", "AHAs", "BHAs", "alcohol", "fragrance", "strong essential oils",
		"Ibuprofen", "icing", "inflammation", "broad-spectrum, high-SPF sunscreen", "even if you stay indoors",
		"eight glasses of water", "vitamin C (citrus fruit, bell peppers)", "vitamin A (leafy greens, carrots)", "omega-3 (salmon, walnuts)",
		"Days 1 to 3", "Days 4 to 7", "Week 2", "sandpaper", "one at a time", "Collagen keeps building", "4 to 6 weeks after the last session",
	}
	for _, part := range map[string]string{"text": c.Text, "html": c.HTML} {
		for _, f := range facts {
			if !strings.Contains(part, f) {
				t.Errorf("full guide lacks %q", f)
			}
		}
	}
}

func TestRenderEscapesOnlyHTML(t *testing.T) {
	t.Parallel()
	p := setup(t)
	d := longData()
	d.FirstName = "<script>alert(1)</script>"
	d.ClinicName = `Tom & Jerry's "Skin"`
	d.BookingURL = "javascript:alert(2)"
	for _, s := range p.Steps() {
		for _, ch := range s.Channels {
			c, err := p.Render(s.Key, ch, d)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(c.HTML, "<script>") || strings.Contains(c.HTML, "javascript:") {
				t.Errorf("%s html not escaped:\n%s", s.Key, c.HTML)
			}
			if ch == aftercare.Email && !strings.Contains(c.HTML, "Tom &amp; Jerry&#39;s &#34;Skin&#34;") {
				t.Errorf("%s html lacks the escaped clinic name", s.Key)
			}
			if strings.Contains(c.Text, "&lt;") || strings.Contains(c.Text, "&amp;") {
				t.Errorf("%s %s text is HTML-escaped: %q", s.Key, ch, c.Text)
			}
			if strings.Contains(c.Text+c.Subject, "{{") {
				t.Errorf("%s %s has template syntax left: %q", s.Key, ch, c.Text)
			}
		}
	}
	c, err := p.Render("welcome", aftercare.SMS, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Text, "Hi <script>alert(1)</script>,") {
		t.Errorf("sms = %q, want the name as typed", c.Text)
	}
	if c, _ := p.Render("book_next", aftercare.Email, d); !strings.Contains(c.HTML, `href="#ZgotmplZ"`) {
		t.Errorf("a javascript: booking link was not neutralized:\n%s", c.HTML)
	}
}

func TestRenderSubjectIsOneLine(t *testing.T) {
	t.Parallel()
	p := setup(t)
	d := longData()
	d.FirstName = "Eve\r\nBcc: everyone@example.com"
	c, err := p.Render("maintenance", aftercare.Email, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(c.Subject, "\r\n") {
		t.Errorf("subject %q spans lines", c.Subject)
	}
	if c.Subject != "Keeping your microneedling results, Eve Bcc: everyone@example.com" {
		t.Errorf("subject = %q", c.Subject)
	}
}

func TestRenderUnknown(t *testing.T) {
	t.Parallel()
	p := setup(t)
	if _, err := p.Render("nope", aftercare.SMS, Data{}); err == nil {
		t.Error("Render(nope) succeeded")
	}
	if _, err := p.Render("evening_care", aftercare.Email, Data{}); err == nil {
		t.Error("Render(evening_care, email) succeeded; it is text only")
	}
	if _, err := p.Render("welcome", "fax", Data{}); err == nil {
		t.Error("Render(welcome, fax) succeeded")
	}
}

func TestHowToBook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Data
		want string
	}{
		{Data{BookingURL: "https://x.example/b", ClinicPhone: "+1415"}, "book online at https://x.example/b"},
		{Data{ClinicPhone: "+14155550123"}, "call us at +14155550123"},
	}
	for _, tc := range tests {
		if got := tc.d.HowToBook(); got != tc.want {
			t.Errorf("HowToBook() = %q, want %q", got, tc.want)
		}
	}
	if got := (Data{ClinicPhone: " +1 (415) 555-0123 "}).TelURL(); got != "tel:+14155550123" {
		t.Errorf("TelURL() = %q", got)
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n       int
		in, out string
	}{
		{10, "short", "short"},
		{10, "exactly 10", "exactly 10"},
		{10, "a bit longer than ten", "a bit l..."},
		{10, "spaces\n\n  folded  here", "spaces..."},
		{5, "héllo wörld", "hé..."},
		{0, "abcdef", "a..."},
	}
	for _, tc := range tests {
		if got := clip(tc.n, tc.in); got != tc.out {
			t.Errorf("clip(%d, %q) = %q, want %q", tc.n, tc.in, got, tc.out)
		}
	}
}

func TestNewData(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	in := input("America/New_York", local(t, ny, "2026-06-09 23:30")) // June 10 in UTC
	in.Enrollment.SessionNumber, in.Enrollment.SeriesLength = 2, 3
	d := NewData(in)
	want := Data{
		FirstName: "Maya", PatientName: "Maya Lopez", PatientPhone: "+14155550100",
		ClinicName: "Glow Clinic", ClinicPhone: "+14155550123", BookingURL: "https://glow.example/book",
		SessionNumber: 2, SeriesLength: 3, NextSession: 3, TreatedDate: "Tuesday, June 9", TreatedDay: "Tue 9 Jun",
		treatedOn: civilDate{2026, 6, 9},
	}
	if at := local(t, ny, "2026-06-09 23:30"); !d.treatedAt.Equal(at) || d.treatedAt.Location().String() != "America/New_York" {
		t.Errorf("treatedAt %v, want %v in the patient's zone", d.treatedAt, at)
	}
	d.treatedAt = time.Time{}
	if d != want {
		t.Errorf("NewData:\n got %+v\nwant %+v", d, want)
	}
	in.Enrollment.SessionNumber = 3
	if d := NewData(in); d.NextSession != 0 || !d.SeriesFinished {
		t.Errorf("last session: NextSession %d finished %v", d.NextSession, d.SeriesFinished)
	}
}
