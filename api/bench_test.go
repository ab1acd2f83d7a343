package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// BenchmarkCreateEnrollment is POST /v1/enrollments through the API's
// handler (no network): authentication, decoding, validation, planning the
// full protocol (about 25 messages), storing it in one transaction, reading
// the enrollment back and encoding the answer. Each iteration enrolls a new
// patient.
func BenchmarkCreateEnrollment(b *testing.B) {
	clock := testsupport.NewClock(now)
	s := testsupport.OpenStore(b, store.Options{Clock: clock})
	p, err := protocol.Default()
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(api.Deps{Store: s, Enroller: &enroll.Service{Store: s, Protocol: p, Clock: clock},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	body := validBody()
	i := 0
	var respBytes int
	b.ReportAllocs()
	for b.Loop() {
		i++
		body["phone"] = fmt.Sprintf("+1415%03d%04d", 200+i/10000%800, i%10000)
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/v1/enrollments", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body.Bytes())
		}
		respBytes += rec.Body.Len()
	}
	b.ReportMetric(float64(respBytes)/float64(b.N), "resp-bytes/op")
}
