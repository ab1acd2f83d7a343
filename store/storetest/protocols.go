package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// A clinic's planning settings survive every way a clinic is read: by id,
// in the list, through an API key and through a console session; and
// changing them audits their names, never their values.
func testClinicPlanningRoundTrips(t *testing.T, drv Driver) {
	s, clock, _ := Setup(t, drv.Open)
	ctx := context.Background()
	planning := aftercare.ClinicPlanning{DefaultLanguage: "es", QuietHours: "20:30-09:00", DailyTextCap: 3,
		WeeklyTextCap: 9, Treatments: []string{"microneedling", "chemical peel"}}
	c, key, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Luz", Phone: "+14155550120", Timezone: "America/Chicago",
		AlertEmail: "luz@clinic.example", AfterHoursPhone: "+14155550121", ClinicPlanning: planning})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, c.ID, "ana@luz.example", "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "tok", UserID: u.ID, ClinicID: c.ID, CSRF: "x",
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour), IdleUntil: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want aftercare.Clinic) {
		t.Helper()
		got, err := s.Clinic(ctx, c.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Clinic = %+v, %v;\nwant %+v", when, got, err, want)
		}
		all, err := s.Clinics(ctx)
		if err != nil || len(all) != 2 || !reflect.DeepEqual(all[1], want) {
			t.Fatalf("%s: Clinics = %+v, %v", when, all, err)
		}
		byKey, err := s.ClinicByAPIKey(ctx, key)
		if err != nil || !reflect.DeepEqual(byKey, want) {
			t.Fatalf("%s: ClinicByAPIKey = %+v, %v", when, byKey, err)
		}
		se, err := s.SessionByToken(ctx, "tok")
		if err != nil || !reflect.DeepEqual(se.Clinic, want) {
			t.Fatalf("%s: session clinic = %+v, %v", when, se.Clinic, err)
		}
	}
	check("created", c)

	c2 := c
	c2.DefaultLanguage, c2.DailyTextCap, c2.Treatments = "en", 2, []string{"chemical peel"}
	if got := store.ChangedClinicFields(c, c2); !reflect.DeepEqual(got, []string{"default_language", "daily_text_cap", "treatments"}) {
		t.Fatalf("ChangedClinicFields = %v", got)
	}
	if err := s.UpdateClinic(ctx, c2); err != nil {
		t.Fatal(err)
	}
	check("updated", c2)
	c3 := c2
	c3.QuietHours, c3.WeeklyTextCap, c3.Treatments = "", 0, nil // back to the daemon's defaults
	if err := s.UpdateClinic(ctx, c3); err != nil {
		t.Fatal(err)
	}
	check("cleared", c3)
	if err := s.UpdateClinic(ctx, c3); err != nil { // nothing changed: no audit row
		t.Fatal(err)
	}
	rows, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditSettings})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, r := range rows {
		details = append(details, r.Detail)
	}
	want := []string{"changed quiet_hours, weekly_text_cap, treatments", "changed default_language, daily_text_cap, treatments"}
	if !reflect.DeepEqual(details, want) {
		t.Fatalf("settings audit = %q, want %q", details, want)
	}
}

// A patient's language and an enrollment's protocol record are stored
// and read back everywhere; a returning patient's language changes only
// when the new enrollment names one.
func testPatientLanguageAndEnrollmentProtocol(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	enroll := func(lang string, session int, e aftercare.Enrollment) store.EnrollmentView {
		t.Helper()
		e.TreatedAt, e.SessionNumber, e.SeriesLength = t0, session, 3
		var planned aftercare.Patient
		v, created, err := s.CreateEnrollment(ctx, store.NewEnrollment{
			Patient: aftercare.Patient{ClinicID: c.ID, FirstName: "Lucía", LastName: "Ruiz", Phone: "+14155550130",
				Timezone: "America/New_York", Language: lang},
			Enrollment: e,
			Plan: func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
				planned = p
				return plan(1)(p, e)
			},
		})
		if err != nil || !created {
			t.Fatalf("CreateEnrollment = %v, %v", created, err)
		}
		if planned.Language != v.Patient.Language {
			t.Errorf("planned for language %q, the stored patient's is %q", planned.Language, v.Patient.Language)
		}
		return v
	}
	first := aftercare.Enrollment{Treatment: "microneedling", Protocol: "microneedling", ProtocolVersion: 2, Language: "es"}
	v1 := enroll("es", 1, first)
	if v1.Patient.Language != "es" || v1.Enrollment.Protocol != "microneedling" || v1.Enrollment.ProtocolVersion != 2 || v1.Enrollment.Language != "es" {
		t.Fatalf("created view: patient %+v, enrollment %+v", v1.Patient, v1.Enrollment)
	}
	// Read back: the enrollment view, the patient, the list, the patient view.
	got, err := s.Enrollment(ctx, c.ID, v1.Enrollment.ID)
	if err != nil || !reflect.DeepEqual(got.Enrollment, v1.Enrollment) || got.Patient.Language != "es" {
		t.Fatalf("Enrollment = %+v (patient %+v), %v; want %+v", got.Enrollment, got.Patient, err, v1.Enrollment)
	}

	// Returning without a language: keeps Spanish.
	second := aftercare.Enrollment{Treatment: "chemical peel", Protocol: "chemical peel", ProtocolVersion: 1, Language: "en"}
	v2 := enroll("", 1, second)
	if v2.Patient.ID != v1.Patient.ID || v2.Patient.Language != "es" {
		t.Fatalf("returning patient without a language: %+v", v2.Patient)
	}
	if p, err := s.Patient(ctx, c.ID, v1.Patient.ID); err != nil || p.Language != "es" {
		t.Fatalf("Patient = %+v, %v", p, err)
	}
	// Returning with one: it changes.
	v3 := enroll("en", 2, first)
	if v3.Patient.Language != "en" {
		t.Fatalf("returning patient with language en: %+v", v3.Patient)
	}
	pv, err := s.PatientView(ctx, c.ID, v1.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Patient.Language != "en" || len(pv.Enrollments) != 3 {
		t.Fatalf("PatientView: patient %+v, %d enrollments", pv.Patient, len(pv.Enrollments))
	}
	byID := map[int64]aftercare.Enrollment{}
	for _, e := range pv.Enrollments {
		byID[e.Enrollment.ID] = e.Enrollment
	}
	if e := byID[v2.Enrollment.ID]; e.Protocol != "chemical peel" || e.ProtocolVersion != 1 || e.Language != "en" {
		t.Fatalf("PatientView enrollment %+v", e)
	}
	list, err := s.Enrollments(ctx, c.ID, v1.Patient.ID)
	if err != nil || len(list) != 3 {
		t.Fatalf("Enrollments = %+v, %v", list, err)
	}
	for _, e := range list {
		if e.Protocol == "" || e.Language == "" || e.ProtocolVersion == 0 {
			t.Fatalf("Enrollments lost the protocol record: %+v", e)
		}
	}
	// The claim carries them to the dispatcher.
	claimed, err := s.Claim(ctx, clock.Now(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) == 0 {
		t.Fatal("nothing claimed")
	}
	for _, cl := range claimed {
		want := byID[cl.Message.EnrollmentID]
		if cl.Patient.Language != "en" || cl.Enrollment.Protocol != want.Protocol || cl.Enrollment.ProtocolVersion != want.ProtocolVersion ||
			cl.Enrollment.Language != want.Language || cl.Enrollment.Treatment != want.Treatment {
			t.Fatalf("claimed %d: patient language %q, enrollment %+v; want %+v", cl.Message.ID, cl.Patient.Language, cl.Enrollment, want)
		}
	}
}

// A clinic's own protocols: added, listed, activated, switched and
// switched back, at most one active per treatment and language, each
// change audited, and another clinic can neither see nor activate them.
func testClinicProtocolLifecycle(t *testing.T, drv Driver) {
	s, _, c := Setup(t, drv.Open)
	ctx := aftercare.WithActor(context.Background(), aftercare.Actor{Kind: aftercare.ActorStaff, ID: 4})
	u, err := s.CreateUser(ctx, c.ID, "ana@clinic.example", "h")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Other", Phone: "+14155550190", Timezone: "UTC", AlertEmail: "o@other.example"})
	if err != nil {
		t.Fatal(err)
	}
	add := func(clinicID int64, treatment, lang string, version int, active bool) store.ClinicProtocol {
		t.Helper()
		src := "name: " + treatment + "\nversion: " + strconv.Itoa(version) + "\nlanguage: " + lang + "\n"
		p, err := s.AddClinicProtocol(ctx, store.ClinicProtocol{ClinicID: clinicID, Treatment: treatment, Language: lang,
			Version: version, Source: src, UploadedBy: u.ID, Active: active})
		if err != nil {
			t.Fatalf("add %s %s v%d: %v", treatment, lang, version, err)
		}
		sum := sha256.Sum256([]byte(src))
		if p.ID == 0 || p.SHA256 != hex.EncodeToString(sum[:]) || p.CreatedAt.IsZero() {
			t.Fatalf("added %+v", p)
		}
		return p
	}
	active := func(clinicID int64) map[string]int {
		t.Helper()
		ps, err := s.ClinicProtocols(ctx, clinicID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, p := range ps {
			if p.Active {
				k := p.Treatment + "/" + p.Language
				if _, dup := out[k]; dup {
					t.Fatalf("two active protocols for %s: %+v", k, ps)
				}
				out[k] = p.Version
			}
		}
		return out
	}

	v1 := add(c.ID, "chemical peel", "en", 1, false)
	v2 := add(c.ID, "chemical peel", "en", 2, false)
	es1 := add(c.ID, "chemical peel", "es", 1, true) // added and made active at once
	add(other.ID, "chemical peel", "en", 1, true)    // the same key at another clinic is its own

	// Heads are the list without sources; one protocol is read with its
	// source, and only by its own clinic.
	full, err := s.ClinicProtocols(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	heads, err := s.ClinicProtocolHeads(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != len(full) || len(full) != 3 {
		t.Fatalf("%d heads, %d protocols", len(heads), len(full))
	}
	for i, h := range heads {
		want := full[i]
		want.Source = ""
		if h.Source != "" || !reflect.DeepEqual(h, want) {
			t.Errorf("head %d = %+v, want %+v", i, h, want)
		}
		one, err := s.ClinicProtocol(ctx, c.ID, h.ID)
		if err != nil || !reflect.DeepEqual(one, full[i]) {
			t.Errorf("ClinicProtocol(%d) = %+v, %v; want %+v", h.ID, one, err, full[i])
		}
	}
	if _, err := s.ClinicProtocol(ctx, other.ID, v1.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("another clinic read protocol %d: %v", v1.ID, err)
	}

	ps, err := s.ClinicProtocols(ctx, c.ID)
	if err != nil || len(ps) != 3 {
		t.Fatalf("ClinicProtocols = %+v, %v", ps, err)
	}
	if ps[0].ID != v1.ID || ps[1].ID != v2.ID || ps[2].ID != es1.ID {
		t.Fatalf("order: %+v", ps)
	}
	if !reflect.DeepEqual(ps[1], v2) || ps[1].UploadedBy != u.ID || !strings.HasPrefix(ps[1].Source, "name: chemical peel") {
		t.Fatalf("listed %+v, added %+v", ps[1], v2)
	}
	if got := active(c.ID); !reflect.DeepEqual(got, map[string]int{"chemical peel/es": 1}) {
		t.Fatalf("active after adding = %v", got)
	}

	// A version twice: a conflict, nothing written.
	_, err = s.AddClinicProtocol(ctx, store.ClinicProtocol{ClinicID: c.ID, Treatment: "chemical peel", Language: "en", Version: 2, Source: "other"})
	if aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Fatalf("duplicate version: %v", err)
	}
	// Bad input: every field named at once.
	_, err = s.AddClinicProtocol(ctx, store.ClinicProtocol{ClinicID: c.ID, Treatment: " ", Language: "fr", Version: 0})
	var fields []string
	for _, e := range aftercare.AllErrors(err) {
		fields = append(fields, e.Field)
		if e.Code != aftercare.EINVALID {
			t.Errorf("%s: code %s", e.Field, e.Code)
		}
	}
	if !reflect.DeepEqual(fields, []string{"treatment", "language", "version", "source"}) {
		t.Fatalf("invalid protocol: fields %v (%v)", fields, err)
	}
	if _, err := s.AddClinicProtocol(ctx, store.ClinicProtocol{ClinicID: other.ID + 100, Treatment: "x", Language: "en", Version: 1, Source: "x"}); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("unknown clinic: %v", err)
	}

	// Activate, switch, set again (no change), back to the daemon's.
	steps := []struct {
		id   int64
		want map[string]int
	}{
		{v1.ID, map[string]int{"chemical peel/en": 1, "chemical peel/es": 1}},
		{v2.ID, map[string]int{"chemical peel/en": 2, "chemical peel/es": 1}},
		{v2.ID, map[string]int{"chemical peel/en": 2, "chemical peel/es": 1}},
		{0, map[string]int{"chemical peel/es": 1}},
		{0, map[string]int{"chemical peel/es": 1}},
	}
	for i, st := range steps {
		if err := s.SetActiveClinicProtocol(ctx, c.ID, "chemical peel", "en", st.id); err != nil {
			t.Fatalf("step %d: activate %d: %v", i, st.id, err)
		}
		if got := active(c.ID); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d: active = %v, want %v", i, got, st.want)
		}
	}

	// Another clinic: cannot see or activate them; the wrong key is refused.
	ops, err := s.ClinicProtocols(ctx, other.ID)
	if err != nil || len(ops) != 1 || ops[0].ClinicID != other.ID {
		t.Fatalf("other clinic's protocols = %+v, %v", ops, err)
	}
	if err := s.SetActiveClinicProtocol(ctx, other.ID, "chemical peel", "en", v1.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("other clinic activating ours: %v", err)
	}
	if err := s.SetActiveClinicProtocol(ctx, c.ID, "chemical peel", "en", es1.ID); aftercare.ErrorCode(err) != aftercare.EINVALID {
		t.Fatalf("activating a Spanish protocol for English: %v", err)
	}
	if got := active(other.ID); !reflect.DeepEqual(got, map[string]int{"chemical peel/en": 1}) {
		t.Fatalf("other clinic's active = %v", got)
	}
	if got := active(c.ID); !reflect.DeepEqual(got, map[string]int{"chemical peel/es": 1}) {
		t.Fatalf("refused activations changed something: %v", got)
	}

	// Audited: three adds (one activating), two switches, one switch back;
	// the repeats and the refusals wrote nothing.
	rows, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditSettings})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for i := len(rows) - 1; i >= 0; i-- {
		details = append(details, rows[i].Detail)
		if rows[i].Actor.ID != 4 {
			t.Errorf("audit actor %+v", rows[i].Actor)
		}
	}
	want := []string{
		"protocol chemical peel (en): added version 1 (id " + itoa(v1.ID) + ")",
		"protocol chemical peel (en): added version 2 (id " + itoa(v2.ID) + ")",
		"protocol chemical peel (es): added version 1 (id " + itoa(es1.ID) + ") and made it active",
		"protocol chemical peel (en): version 1 (id " + itoa(v1.ID) + ") made active",
		"protocol chemical peel (en): version 2 (id " + itoa(v2.ID) + ") made active, was version 1 (id " + itoa(v1.ID) + ")",
		"protocol chemical peel (en): back to the daemon's protocol, was version 2 (id " + itoa(v2.ID) + ")",
	}
	if !reflect.DeepEqual(details, want) {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(details, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// RecentEnrollments counts one clinic's enrollments made since a time, by
// treatment and language: older ones and another clinic's are not counted.
func testRecentEnrollments(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "b@clinic.example", Name: "Other", Phone: "+14155550199",
		Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	add := func(clinic aftercare.Clinic, treatment, lang string) {
		t.Helper()
		n++
		_, created, err := s.CreateEnrollment(ctx, store.NewEnrollment{
			Patient: aftercare.Patient{ClinicID: clinic.ID, FirstName: "Ana", LastName: "Diaz",
				Phone: "+1415555" + strconv.Itoa(1000+n), Timezone: "America/New_York"},
			Enrollment: aftercare.Enrollment{Treatment: treatment, TreatedAt: t0, SessionNumber: 1, SeriesLength: 3,
				Protocol: treatment, ProtocolVersion: 1, Language: lang},
			Plan: plan(1),
		})
		if err != nil || !created {
			t.Fatalf("CreateEnrollment = %v, %v", created, err)
		}
	}
	add(c, "microneedling", "en") // a day before since: not counted
	clock.Advance(24 * time.Hour)
	since := clock.Now()
	add(c, "microneedling", "en")
	clock.Advance(time.Hour)
	add(c, "microneedling", "en")
	add(c, "microneedling", "es")
	add(c, "chemical peel", "en")
	add(other, "microneedling", "en")
	got, err := s.RecentEnrollments(ctx, c.ID, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.EnrollmentCount{{Treatment: "chemical peel", Language: "en", Enrollments: 1},
		{Treatment: "microneedling", Language: "en", Enrollments: 2}, {Treatment: "microneedling", Language: "es", Enrollments: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RecentEnrollments = %+v, want %+v", got, want)
	}
	if got, err := s.RecentEnrollments(ctx, c.ID, clock.Now().Add(time.Minute)); err != nil || len(got) != 0 {
		t.Fatalf("RecentEnrollments after the last = %+v, %v", got, err)
	}
}

// CheckPlanningUpgrade checks a database upgraded across the migration
// that added planning settings, languages and protocol records (SQLite
// 0014, PostgreSQL 0004), seeded with clinic 1, patient 1 and its two
// microneedling enrollments: the clinic plans with the daemon's defaults,
// the patient has no language of their own, and each enrollment records
// the English microneedling protocol with an unknown version (0).
func CheckPlanningUpgrade(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	c, err := s.Clinic(ctx, 1)
	if err != nil || !reflect.DeepEqual(c.ClinicPlanning, aftercare.ClinicPlanning{}) {
		t.Fatalf("clinic after the upgrade: %+v, %v", c, err)
	}
	p, err := s.Patient(ctx, 1, 1)
	if err != nil || p.Language != "" {
		t.Fatalf("patient after the upgrade: %+v, %v", p, err)
	}
	es, err := s.Enrollments(ctx, 1, 1)
	if err != nil || len(es) != 2 {
		t.Fatalf("enrollments after the upgrade: %+v, %v", es, err)
	}
	for _, e := range es {
		if e.Protocol != "microneedling" || e.ProtocolVersion != 0 || e.Language != "en" {
			t.Errorf("enrollment %d after the upgrade: protocol %q version %d language %q", e.ID, e.Protocol, e.ProtocolVersion, e.Language)
		}
	}
}
