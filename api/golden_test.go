package api_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGoldenJSON pins the API's wire format byte for byte: every JSON
// answer that carries enrollments, patients, consents, messages, events,
// replies, concerns, audit rows, exports and erasures, served for three
// fixtures: every field set (so every field's name, and that it is there),
// every field zero with nil lists (omitempty, omitzero, null), every
// field zero with empty lists ([] against null), and every field zero in
// lists of two (each kind of element zero, with its own lists of two and
// nil). The answers come from a
// fake store, so the files pin the API's shapes, not the store's
// behaviour. Run with -update only for a change of the wire format that
// is meant.
func TestGoldenJSON(t *testing.T) {
	t.Parallel()
	for _, mode := range []fillMode{full, zero, empty, items} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			fx := newFixture(mode)
			srv := api.New(api.Deps{Store: fx, Enroller: fx, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ts := httptest.NewServer(srv.Handler())
			t.Cleanup(ts.Close)

			enrollBody := `{"first_name":"Ana","last_name":"Diaz","phone":"+14155550123","email":"ana@gmial.com",` +
				`"timezone":"America/New_York","sms_consent":true,"email_consent":true,"treatment":"microneedling",` +
				`"treated_at":"2026-11-25T09:30:00-05:00","session_number":1,"series_length":3}`
			badBody := strings.Replace(enrollBody, `"Ana"`, `"Bad"`, 1)
			limit := fmt.Sprint(len(fx.msgs))
			if len(fx.msgs) == 0 {
				limit = "5"
			}
			cases := []struct {
				method, path, body string
				hdr                map[string]string
			}{
				{"POST", "/v1/enrollments", enrollBody, nil},
				{"POST", "/v1/enrollments", enrollBody, map[string]string{"Idempotency-Key": "again"}},
				{"POST", "/v1/enrollments", badBody, nil},
				{"POST", "/v1/enrollments/preview", enrollBody, nil},
				{"GET", "/v1/enrollments/7", "", nil},
				{"POST", "/v1/enrollments/7/cancel", "", nil},
				{"POST", "/v1/enrollments/7/replan", `{"dry_run":true}`, nil},
				{"GET", "/v1/messages?limit=" + limit, "", nil},
				{"GET", "/v1/messages?limit=1000", "", nil},
				{"GET", "/v1/audit?limit=" + limit, "", nil},
				{"GET", "/v1/audit?limit=1000", "", nil},
				{"GET", "/v1/patients/7/export", "", nil},
				{"DELETE", "/v1/patients/7", "", nil},
				{"GET", "/v1/clinic", "", nil},
			}
			var got bytes.Buffer
			for _, c := range cases {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				req, err := http.NewRequest(c.method, ts.URL+c.path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+goldenKey)
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for k, v := range c.hdr {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&got, "### %s %s %v\nstatus: %d\n", c.method, c.path, c.hdr, resp.StatusCode)
				for _, h := range []string{"Content-Type", "Location", "Content-Disposition"} {
					if v := resp.Header.Get(h); v != "" {
						fmt.Fprintf(&got, "%s: %s\n", h, v)
					}
				}
				got.Write(raw)
			}
			checkGolden(t, filepath.Join("testdata", "golden", mode.String()+".txt"), got.Bytes())
		})
	}
}

// checkGolden compares got with the golden file (or rewrites it under
// -update), showing the first difference with the case it falls in.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to write it): %v", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	section := ""
	if j := bytes.LastIndex(want[:i], []byte("### ")); j >= 0 {
		section, _, _ = strings.Cut(string(want[j:]), "\n")
	}
	window := func(b []byte) string {
		lo, hi := max(0, i-120), min(len(b), i+120)
		return string(b[lo:hi])
	}
	t.Fatalf("%s: JSON differs from the golden file at byte %d, in %q\n got: …%s…\nwant: …%s…", path, i, section, window(got), window(want))
}

const goldenKey = "ak_golden"

// fixture is a fake store and enroller answering every call with values
// made by fill.
type fixture struct {
	mode    fillMode
	view    store.EnrollmentView
	msgs    []aftercare.Message
	audit   []aftercare.AuditEntry
	export  store.PatientExport
	erasure store.Erasure
	summary protocol.Summary
	clinic  aftercare.Clinic
	replan  store.ReplanDiff
	// checkins are filled last, so the other fields' values stay put.
	checkins []aftercare.CheckinAnswer
}

func newFixture(mode fillMode) *fixture {
	f := &fixture{mode: mode}
	n := 0
	for _, v := range []any{&f.view, &f.msgs, &f.audit, &f.export, &f.erasure, &f.summary, &f.clinic, &f.replan, &f.checkins} {
		fill(reflect.ValueOf(v).Elem(), mode, "", &n)
	}
	return f
}

func (f *fixture) AuthenticateAPIKey(ctx context.Context, key string) (aftercare.Clinic, int64, string, error) {
	if key != goldenKey {
		return aftercare.Clinic{}, 0, "", aftercare.Errorf(aftercare.EUNAUTHORIZED, "invalid or revoked API key")
	}
	return aftercare.Clinic{ID: 1, Name: "Glow", Timezone: "America/New_York"}, 1, "golden", nil
}

func (f *fixture) Enrollment(ctx context.Context, clinicID, id int64) (store.EnrollmentView, error) {
	return f.view, nil
}

func (f *fixture) CancelEnrollment(ctx context.Context, clinicID, id int64, reason string) (int, error) {
	return 3, nil
}

func (f *fixture) Messages(ctx context.Context, mf store.MessageFilter) ([]aftercare.Message, error) {
	return f.msgs, nil
}

func (f *fixture) RecordAudit(ctx context.Context, e aftercare.AuditEntry) error { return nil }

func (f *fixture) AuditLog(ctx context.Context, af store.AuditFilter) ([]aftercare.AuditEntry, error) {
	return f.audit, nil
}

func (f *fixture) CheckinAnswers(ctx context.Context, clinicID, patientID int64) ([]aftercare.CheckinAnswer, error) {
	return f.checkins, nil
}

func (f *fixture) ExportPatient(ctx context.Context, clinicID, patientID int64) (store.PatientExport, error) {
	return f.export, nil
}

func (f *fixture) ErasePatient(ctx context.Context, clinicID, patientID int64) (store.Erasure, error) {
	return f.erasure, nil
}

func (f *fixture) Clinic(ctx context.Context, id int64) (aftercare.Clinic, error) {
	return f.clinic, nil
}

func (f *fixture) UpdateClinic(ctx context.Context, c aftercare.Clinic) error {
	f.clinic = c
	return nil
}

func (f *fixture) Enroll(ctx context.Context, clinic aftercare.Clinic, req enroll.Request, idemKey string) (store.EnrollmentView, bool, error) {
	if req.FirstName == "Bad" {
		return store.EnrollmentView{}, false, errors.Join(aftercare.FieldError("phone", "not a phone number"),
			aftercare.FieldError("treated_at", "is in the future"))
	}
	return f.view, idemKey == "", nil
}

func (f *fixture) Preview(_ context.Context, clinic aftercare.Clinic, req enroll.Request) ([]aftercare.Message, protocol.Summary, error) {
	return f.msgs, f.summary, nil
}

func (f *fixture) Replan(_ context.Context, clinic aftercare.Clinic, enrollmentID int64, dryRun bool) (store.ReplanDiff, error) {
	return f.replan, nil
}

// fillMode says how fill sets a value.
type fillMode int

const (
	// full sets every field: numbers and times distinct, strings that
	// need escaping, lists of one.
	full fillMode = iota
	// zero leaves every field zero and every list nil.
	zero
	// empty leaves every field zero and makes every list empty, not nil.
	empty
	// items leaves every field zero and makes every list two long: the
	// first element with lists of two in turn, the second all zero (its
	// lists nil).
	items
)

func (m fillMode) String() string { return [...]string{"full", "zero", "empty", "items"}[m] }

// fill sets v and everything in it by mode, numbering the values it sets
// with *n so that each is distinct and the same on every run.
func fill(v reflect.Value, mode fillMode, name string, n *int) {
	if mode == zero {
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		if mode == full {
			*n++
			base := time.Date(2026, 11, 25, 10, 0, 0, 120000000, time.FixedZone("EST", -5*3600))
			v.Set(reflect.ValueOf(base.Add(time.Duration(*n) * time.Second)))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), mode, v.Type().Field(i).Name, n)
			}
		}
	case reflect.Slice:
		switch mode {
		case empty:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case items:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			fill(v.Index(0), mode, name, n)
		default:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			fill(v.Index(0), mode, name, n)
		}
	case reflect.String:
		if mode == full {
			*n++
			v.SetString(fmt.Sprintf("%s %d <b>&é\u2028", name, *n))
		}
	case reflect.Int, reflect.Int64:
		if mode == full {
			*n++
			v.SetInt(int64(*n))
		}
	case reflect.Bool:
		v.SetBool(mode == full)
	default:
		panic("fill: no rule for " + v.Type().String())
	}
}
