package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func TestReplanEnrollment(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("enroll: %d %v", resp.StatusCode, out)
	}
	id := int64(out["enrollment"].(map[string]any)["id"].(float64))
	path := "/v1/enrollments/" + jsonNum(id) + "/replan"

	// Bad input: 4xx naming the problem, and nothing written.
	for _, c := range []struct {
		body   any
		status int
		field  string
	}{
		{`{"dry_run": tru`, http.StatusBadRequest, ""},
		{``, http.StatusBadRequest, ""},
		{`{}`, http.StatusUnprocessableEntity, "dry_run"},
		{`{"dry_run": "yes"}`, http.StatusUnprocessableEntity, "dry_run"},
		{`{"dry_run": false, "protocol": "x"}`, http.StatusUnprocessableEntity, "protocol"},
		{`[true]`, http.StatusUnprocessableEntity, ""},
	} {
		resp, out := e.do(t, "POST", path, e.keyA, c.body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%q: status %d, want %d (%v)", c.body, resp.StatusCode, c.status, out)
			continue
		}
		er, _ := out["error"].(map[string]any)
		if er == nil || er["message"] == "" || c.field != "" && er["field"] != c.field {
			t.Errorf("%q: error %v, want field %q", c.body, out, c.field)
		}
	}

	// Another clinic's enrollment is not found.
	if resp, out := e.do(t, "POST", path, e.keyB, map[string]any{"dry_run": true}, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other clinic: %d %v", resp.StatusCode, out)
	}

	// With the protocol it was planned with, re-planning changes nothing.
	for _, dry := range []bool{true, false} {
		resp, out := e.do(t, "POST", path, e.keyA, map[string]any{"dry_run": dry}, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("re-plan (dry run %v): %d %v", dry, resp.StatusCode, out)
		}
		if out["dry_run"] != dry || out["enrollment_id"] != float64(id) || len(out["added"].([]any)) != 0 ||
			len(out["changed"].([]any)) != 0 || len(out["removed"].([]any)) != 0 || out["unchanged"].(float64) < 20 {
			t.Fatalf("re-plan (dry run %v) = %v", dry, out)
		}
		from, to := out["from"].(map[string]any), out["to"].(map[string]any)
		if from["name"] == "" || from["name"] != to["name"] || from["version"] != to["version"] {
			t.Fatalf("from %v to %v", from, to)
		}
	}
	log, err := e.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: e.clinicA.ID, Action: aftercare.AuditReplan})
	if err != nil || len(log) != 1 {
		t.Fatalf("audit rows = %d, %v (want one, for the applied re-plan only)", len(log), err)
	}

	// A cancelled enrollment cannot be re-planned.
	if resp, out := e.do(t, "POST", "/v1/enrollments/"+jsonNum(id)+"/cancel", e.keyA, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d %v", resp.StatusCode, out)
	}
	resp, out = e.do(t, "POST", path, e.keyA, map[string]any{"dry_run": true}, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("cancelled: %d %v", resp.StatusCode, out)
	}
	if err := e.store.CheckTransitions(context.Background()); err != nil {
		t.Fatal(err)
	}
}
