package web_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// TestSettingsPlanning: the settings page edits the planning settings
// (patients' language, quiet hours, text caps, treatments offered), shows
// every problem next to its field and in the summary, writes nothing
// until all are fixed, and saves them normalized in one audited write.
func TestSettingsPlanning(t *testing.T) {
	w := newWorld(t, options{})
	w.addAdmin(w.clinic.ID, "admin@glow.example")
	c := w.client()
	csrf := c.signIn("admin@glow.example")
	page := c.get("/console/settings")
	for _, want := range []string{`<option value="" selected>English</option>`, `<option value="es">Español</option>`,
		`id="quiet_hours"`, `id="daily_text_cap" name="daily_text_cap" type="number"`, `name="treatments" value="chemical peel"`,
		`name="treatments" value="microneedling"`} {
		if page.status != http.StatusOK || !strings.Contains(page.body, want) {
			t.Fatalf("settings page lacks %s (status %d)", want, page.status)
		}
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf_token": {csrf}, "name": {"Glow Skin Clinic"}, "phone": {"+14155550100"},
			"timezone": {"America/New_York"}, "booking_url": {"https://glow.example/book"}, "alert_email": {"staff@clinic.example"}}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	bad := c.post("/console/settings", form("default_language", "fr", "quiet_hours", "9pm-8am", "daily_text_cap", "lots",
		"weekly_text_cap", "99", "treatments", "microneedling", "treatments", "laser"))
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad settings: %d", bad.status)
	}
	for _, want := range []string{`href="#default_language"`, `href="#quiet_hours"`, `href="#daily_text_cap"`,
		`href="#weekly_text_cap"`, `href="#treatments"`, `id="default_language-error"`, "Patients&#39; language: must be en or es",
		"Texts a day: must be a whole number", `value="lots"`, `value="9pm-8am"`, `no protocol for &#34;laser&#34;`,
		`value="laser" id="treatment-2" checked`, `value="microneedling" id="treatment-1" checked`} {
		if !strings.Contains(bad.body, want) {
			t.Errorf("bad settings page lacks %s", want)
		}
	}
	if got, _ := w.store.Clinic(context.Background(), w.clinic.ID); !reflect.DeepEqual(got.ClinicPlanning, aftercare.ClinicPlanning{}) {
		t.Fatalf("a refused form changed the clinic: %+v", got.ClinicPlanning)
	}

	ok := c.post("/console/settings", form("default_language", "es", "quiet_hours", "21:30 - 7:00", "daily_text_cap", "3",
		"weekly_text_cap", "12", "treatments", "microneedling", "treatments", "chemical peel"))
	if ok.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", ok.status, ok.body)
	}
	got, _ := w.store.Clinic(context.Background(), w.clinic.ID)
	want := aftercare.ClinicPlanning{DefaultLanguage: "es", QuietHours: "21:30-07:00", DailyTextCap: 3, WeeklyTextCap: 12,
		Treatments: []string{"microneedling", "chemical peel"}}
	if !reflect.DeepEqual(got.ClinicPlanning, want) {
		t.Fatalf("saved %+v, want %+v", got.ClinicPlanning, want)
	}
	page = c.get("/console/settings?saved=1")
	for _, want := range []string{`<option value="es" selected>Español</option>`, `value="21:30-07:00"`, `value="3"`, `value="12"`,
		`value="chemical peel" id="treatment-0" checked`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("saved settings page lacks %s", want)
		}
	}
	rows, _ := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditSettings})
	if len(rows) != 1 || rows[0].Detail != "changed default_language, quiet_hours, daily_text_cap, weekly_text_cap, treatments" {
		t.Fatalf("audit rows = %+v", rows)
	}

	// Empty values restore the defaults; no box ticked offers every treatment.
	if r := c.post("/console/settings", form()); r.status != http.StatusSeeOther {
		t.Fatalf("clear: %d", r.status)
	}
	if got, _ := w.store.Clinic(context.Background(), w.clinic.ID); !reflect.DeepEqual(got.ClinicPlanning, aftercare.ClinicPlanning{}) {
		t.Fatalf("after clearing: %+v", got.ClinicPlanning)
	}
}
