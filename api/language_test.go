package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestEnrollLanguage: an enrollment's "language" is the patient's, shown
// on the answer's patient; a language aftercare does not write in is
// refused by name with the other mistakes, and nothing is stored.
func TestEnrollLanguage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := validBody()
	body["language"] = "fr"
	body["phone"] = "12"
	resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, body, nil)
	var fields []string
	for _, p := range out["errors"].([]any) {
		fields = append(fields, p.(map[string]any)["field"].(string))
	}
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(" "+strings.Join(fields, " ")+" ", " language ") ||
		!strings.Contains(" "+strings.Join(fields, " ")+" ", " phone ") {
		t.Fatalf("bad language and phone: %d %v", resp.StatusCode, out)
	}
	if p, m := e.counts(t); p != 0 || m != 0 {
		t.Fatalf("a refused enrollment stored %d patients, %d messages", p, m)
	}
	body = validBody()
	body["language"] = "ES"
	resp, out = e.do(t, "POST", "/v1/enrollments", e.keyA, body, nil)
	if resp.StatusCode != http.StatusCreated || out["patient"].(map[string]any)["language"] != "es" {
		t.Fatalf("language es: %d %v", resp.StatusCode, out["patient"])
	}
}
