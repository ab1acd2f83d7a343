package api_test

import (
	"context"
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

// TestRevokedKeyRefusedAtOnceOnEveryReplica runs two API servers on two
// Stores opened on one database file (two daemons) and revokes a key
// through one: the very next request with it gets 401 from both.
func TestRevokedKeyRefusedAtOnceOnEveryReplica(t *testing.T) {
	clock := testsupport.NewClock(now)
	path := testsupport.DB(t)
	p, err := protocol.Default()
	if err != nil {
		t.Fatal(err)
	}
	var stores []*store.Store
	var urls []string
	for range 2 {
		s, err := store.Open(context.Background(), path, store.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srv := api.New(api.Deps{Store: s, Enroller: &enroll.Service{Store: s, Protocol: p, Clock: clock},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		stores, urls = append(stores, s), append(urls, ts.URL)
	}
	c, oldKey, err := stores[0].CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example",
		Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	k, key, err := stores[1].CreateAPIKey(context.Background(), c.ID, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	get := func(url, key string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/v1/messages", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, u := range urls {
		if got := get(u, key); got != http.StatusOK {
			t.Fatalf("replica %d before revoking: %d", i, got)
		}
	}
	// The API path records the key's last use.
	keys, err := stores[0].APIKeys(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, kk := range keys {
		if kk.ID == k.ID && !kk.LastUsedAt.Equal(now) {
			t.Fatalf("last used after two requests = %v, want %v", kk.LastUsedAt, now)
		}
	}
	if err := stores[0].RevokeAPIKey(context.Background(), c.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	for i, u := range urls {
		if got := get(u, key); got != http.StatusUnauthorized {
			t.Fatalf("replica %d, next request after revoking: %d, want 401", i, got)
		}
		if got := get(u, oldKey); got != http.StatusOK {
			t.Fatalf("replica %d: the clinic's other key: %d, want 200", i, got)
		}
	}
}
