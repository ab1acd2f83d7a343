package twiliotest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	patient = "+15005550006"
	clinic  = "+15005550001"
)

// rewriter points twilio-go's requests at the loopback server.
type rewriter struct {
	base *url.URL
	rt   http.RoundTripper
}

func (r rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.base.Scheme, r.base.Host, ""
	return r.rt.RoundTrip(req)
}

type fixture struct {
	srv     *twiliotest.Server
	account string
	token   string
	api     *api.ApiService
}

// setup starts a server and a real twilio-go client pointed at it.
func setup(t *testing.T) fixture {
	t.Helper()
	account, token := twiliotest.NewSID("AC"), "secret0token0"
	srv := twiliotest.NewServer(t, account, token)
	return fixture{srv: srv, account: account, token: token, api: newAPI(t, srv, account, account, token)}
}

func newAPI(t *testing.T, srv *twiliotest.Server, account, user, pass string) *api.ApiService {
	t.Helper()
	base, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &client.Client{
		Credentials: client.NewCredentials(user, pass),
		HTTPClient:  &http.Client{Transport: rewriter{base: base, rt: tr}, Timeout: time.Minute}, // nothing waits for it to fire
	}
	c.SetAccountSid(account)
	return api.NewApiServiceWithClient(c)
}

func create(to, body string) *api.CreateMessageParams {
	p := &api.CreateMessageParams{}
	p.SetTo(to)
	p.SetFrom(clinic)
	p.SetBody(body)
	return p
}

func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a TwilioRestError", err, err)
	}
	return te
}

func TestCreateFetchAndStore(t *testing.T) {
	t.Parallel()
	f := setup(t)
	p := create(patient, "Keep the area clean.")
	p.SetStatusCallback("https://example.test/cb")
	p.SetValidityPeriod(600)
	msg, err := f.api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if sid := *msg.Sid; len(sid) != 34 || sid[:2] != "SM" {
		t.Errorf("sid = %q", sid)
	}
	if *msg.Status != "queued" || *msg.To != patient || *msg.From != clinic || *msg.Body != "Keep the area clean." ||
		*msg.NumSegments != "1" || msg.ErrorCode != nil || msg.DateSent != nil {
		t.Errorf("create response = %+v", msg)
	}
	if _, err := time.Parse(time.RFC1123Z, *msg.DateCreated); err != nil {
		t.Errorf("date_created: %v", err)
	}

	sent := f.srv.Sent()
	if len(sent) != 1 {
		t.Fatalf("stored %d messages", len(sent))
	}
	got := sent[0]
	if got.SID != *msg.Sid || got.StatusCallback != "https://example.test/cb" || got.ValidityPeriod != 600 ||
		got.Form.Get("ValidityPeriod") != "600" || got.Form.Get("From") != clinic {
		t.Errorf("stored = %+v", got)
	}

	fetched, err := f.api.FetchMessage(*msg.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *fetched.Sid != *msg.Sid || *fetched.Status != "sent" || fetched.DateSent == nil {
		t.Errorf("fetched = %+v", fetched)
	}
	_, err = f.api.FetchMessage(twiliotest.NewSID("SM"), nil)
	if te := restError(t, err); te.Code != 20404 || te.Status != 404 {
		t.Errorf("fetch unknown = %+v", te)
	}
}

func TestCreateWithMessagingService(t *testing.T) {
	t.Parallel()
	f := setup(t)
	p := &api.CreateMessageParams{}
	p.SetTo(patient)
	p.SetMessagingServiceSid(twiliotest.NewSID("MG"))
	p.SetBody("Hi")
	msg, err := f.api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if *msg.Status != "accepted" || msg.From != nil || msg.MessagingServiceSid == nil {
		t.Errorf("response = %+v", msg)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		params func() *api.CreateMessageParams
		code   int
	}{
		{"bad to", func() *api.CreateMessageParams { return create("555-1234", "x") }, 21211},
		{"no body", func() *api.CreateMessageParams { return create(patient, "") }, 21602},
		{"no sender", func() *api.CreateMessageParams {
			p := &api.CreateMessageParams{}
			return p.SetTo(patient).SetBody("x")
		}, 21603},
		{"bad from", func() *api.CreateMessageParams { return create(patient, "x").SetFrom("+0") }, 21212},
		{"validity too long", func() *api.CreateMessageParams { return create(patient, "x").SetValidityPeriod(36001) }, 90007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.api.CreateMessage(tt.params())
			te := restError(t, err)
			if te.Code != tt.code || te.Status != 400 || te.MoreInfo != "https://www.twilio.com/docs/errors/"+strconv.Itoa(tt.code) {
				t.Errorf("error = %+v, want code %d", te, tt.code)
			}
		})
	}
	if n := len(f.srv.Sent()); n != 0 {
		t.Errorf("stored %d invalid messages", n)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key, secret := twiliotest.NewSID("SK"), "keysecret"
	f.srv.AddAPIKey(key, secret)
	tests := []struct {
		name       string
		user, pass string
		ok         bool
	}{
		{"auth token", f.account, f.token, true},
		{"api key", key, secret, true},
		{"wrong token", f.account, "wrong", false},
		{"wrong secret", key, "wrong", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newAPI(t, f.srv, f.account, tt.user, tt.pass).CreateMessage(create(patient, "x"))
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if te := restError(t, err); te.Code != 20003 || te.Status != 401 {
				t.Errorf("error = %+v", te)
			}
		})
	}
	// Valid credentials, another account's path.
	_, err := newAPI(t, f.srv, twiliotest.NewSID("AC"), f.account, f.token).CreateMessage(create(patient, "x"))
	if te := restError(t, err); te.Code != 20404 {
		t.Errorf("other account = %+v", te)
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	t.Parallel()
	f := setup(t)
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now := day
	var mu sync.Mutex
	f.srv.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	at := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }

	for i := range 5 {
		at(day.Add(time.Duration(i) * time.Hour))
		if _, err := f.api.CreateMessage(create(patient, "m"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	at(day.Add(24 * time.Hour))
	if _, err := f.api.CreateMessage(create(patient, "next day")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.api.CreateMessage(create("+15005550009", "other patient")); err != nil {
		t.Fatal(err)
	}

	bodies := func(ms []api.ApiV2010Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, *m.Body)
		}
		return out
	}
	tests := []struct {
		name   string
		params func() *api.ListMessageParams
		want   []string
	}{
		{"to, two per page", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetTo(patient).SetPageSize(2)
		}, []string{"next day", "m4", "m3", "m2", "m1", "m0"}},
		{"limit", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetTo(patient).SetPageSize(2).SetLimit(3)
		}, []string{"next day", "m4", "m3"}},
		{"sent after instant", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetTo(patient).SetDateSentAfter(day.Add(3 * time.Hour))
		}, []string{"next day", "m4", "m3"}},
		{"sent after day", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetTo(patient).SetDateSentAfter(day.Add(24 * time.Hour).Truncate(24 * time.Hour))
		}, []string{"next day"}},
		{"sent before", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetTo(patient).SetDateSentBefore(day.Add(time.Hour))
		}, []string{"m1", "m0"}},
		{"from", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetFrom(clinic).SetPageSize(3)
		}, []string{"other patient", "next day", "m4", "m3", "m2", "m1", "m0"}},
		{"nothing", func() *api.ListMessageParams {
			return (&api.ListMessageParams{}).SetTo("+15005550123")
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.api.ListMessage(tt.params())
			if err != nil {
				t.Fatal(err)
			}
			if g := bodies(got); !equal(g, tt.want) {
				t.Errorf("got %q, want %q", g, tt.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := setup(t)

	f.srv.FailNext(1, 400, 21610, "")
	_, err := f.api.CreateMessage(create(patient, "x"))
	if te := restError(t, err); te.Code != 21610 || te.Message != "Attempt to send to unsubscribed recipient" {
		t.Errorf("FailNext = %+v", te)
	}

	f.srv.FailFor("+15005550009", 400, 21614)
	for range 2 {
		_, err = f.api.CreateMessage(create("+15005550009", "x"))
		if te := restError(t, err); te.Code != 21614 {
			t.Errorf("FailFor = %+v", te)
		}
	}
	if f.srv.AttemptsTo("+15005550009") != 2 {
		t.Errorf("attempts to = %d", f.srv.AttemptsTo("+15005550009"))
	}

	f.srv.Ambiguous5xxNext(1)
	_, err = f.api.CreateMessage(create(patient, "went out"))
	if te := restError(t, err); te.Code != 20500 || te.Status != 500 {
		t.Errorf("Ambiguous5xxNext = %+v", te)
	}
	if s := f.srv.Sent(); len(s) != 1 || s[0].Body != "went out" {
		t.Errorf("stored = %+v", s)
	}

	f.srv.HTML503Next(1)
	_, err = f.api.CreateMessage(create(patient, "x"))
	var te *client.TwilioRestError
	if err == nil || errors.As(err, &te) {
		t.Errorf("HTML 503 gave %v, want a plain decoding error", err)
	}

	f.srv.RateLimitNext(1, 1500*time.Millisecond)
	_, err = f.api.CreateMessage(create(patient, "x"))
	if te := restError(t, err); te.Code != 20429 || te.Status != 429 {
		t.Errorf("RateLimitNext = %+v", te)
	}

	attempts := f.srv.Attempts()
	wantStatus := []int{400, 400, 400, 500, 503, 429}
	if len(attempts) != len(wantStatus) {
		t.Fatalf("attempts = %+v", attempts)
	}
	for i, a := range attempts {
		if a.Status != wantStatus[i] || a.At.IsZero() {
			t.Errorf("attempt %d = %+v, want status %d", i, a, wantStatus[i])
		}
	}
	if f.srv.Requests() != 6 {
		t.Errorf("requests = %d", f.srv.Requests())
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.RateLimitNext(1, 1500*time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL()+"/2010-04-01/Accounts/"+f.account+"/Messages.json", nil)
	req.SetBasicAuth(f.account, f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestHangReleaseAndClose(t *testing.T) {
	base := runtime.NumGoroutine()
	srv := twiliotest.NewServer(nil, twiliotest.NewSID("AC"), "tok")
	sapi := newAPI(t, srv, srv.AccountSID(), srv.AccountSID(), "tok")

	// Released: the request then goes on normally.
	srv.HangNext(1)
	done := make(chan error, 1)
	go func() { _, err := sapi.CreateMessage(create(patient, "late")); done <- err }()
	testsupport.WaitFor(t, "a request hanging at the server", time.Minute, func() bool { return srv.Hanging() == 1 })
	srv.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(srv.Sent()) != 1 {
		t.Errorf("released message not stored")
	}

	// SetHang holds every request; Close lets them go without an answer.
	srv.SetHang(true)
	go func() { _, err := sapi.FetchMessage(twiliotest.NewSID("SM"), nil); done <- err }()
	testsupport.WaitFor(t, "a request hanging at the server", time.Minute, func() bool { return srv.Hanging() == 1 })
	srv.Close()
	if err := <-done; err == nil {
		t.Error("hung request succeeded after Close")
	}
	testsupport.WaitGoroutines(t, base+2, time.Minute) // +2: the test's client transport may keep a dying conn briefly
}

func TestDelayHoldsCreatesAndStoresNothingWhenTheClientGivesUp(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.SetDelay(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", f.srv.URL()+"/2010-04-01/Accounts/"+f.account+"/Messages.json",
			strings.NewReader(url.Values{"To": {patient}, "From": {clinic}, "Body": {"slow"}}.Encode()))
		req.SetBasicAuth(f.account, f.token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	testsupport.WaitFor(t, "the create attempt recorded", time.Minute, func() bool { return len(f.srv.Attempts()) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("delayed request answered before the delay")
	}
	testsupport.WaitFor(t, "the attempt recorded as unanswered", time.Minute, func() bool { return f.srv.Attempts()[0].Status == 0 })
	if n := len(f.srv.Sent()); n != 0 {
		t.Fatalf("stored %d messages for a request the client gave up on", n)
	}
	// A short delay: the message is stored and answered.
	f.srv.SetDelay(10 * time.Millisecond)
	if _, err := f.api.CreateMessage(create(patient, "on time")); err != nil {
		t.Fatal(err)
	}
	if n := len(f.srv.Sent()); n != 1 {
		t.Fatalf("stored %d, want 1", n)
	}
}

func TestSignMatchesTwilioGo(t *testing.T) {
	t.Parallel()
	const token = "12345abcdef"
	const u = "https://clinic.example.com:8443/webhooks/twilio/status?clinic=7"
	params := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {patient}, "AccountSid": {"AC1"}}
	sig := twiliotest.Sign(token, u, params)

	v := client.NewRequestValidator(token)
	flat := map[string]string{}
	for k := range params {
		flat[k] = params.Get(k)
	}
	if !v.Validate(u, flat, sig) {
		t.Fatal("twilio-go rejects Sign's signature")
	}
	if !v.ValidateBody(u, []byte(params.Encode()), sig) {
		t.Fatal("twilio-go rejects Sign's signature over the raw body")
	}
	tampered := map[string]string{}
	for k, val := range flat {
		tampered[k] = val
	}
	tampered["MessageStatus"] = "failed"
	if v.Validate(u, tampered, sig) {
		t.Error("tampered params accepted")
	}
	if v.Validate(u+"&x=1", flat, sig) {
		t.Error("other URL accepted")
	}
	if (&v).Validate(u, flat, twiliotest.Sign("othertoken", u, params)) {
		t.Error("signature with another token accepted")
	}
}

func TestInboundForm(t *testing.T) {
	t.Parallel()
	const token = "tok"
	form := twiliotest.InboundForm("AC1", patient, clinic, "STOP")
	for _, k := range []string{"MessageSid", "AccountSid", "From", "To", "Body", "NumMedia", "SmsStatus"} {
		if form.Get(k) == "" {
			t.Errorf("missing %s", k)
		}
	}
	if form.Get("From") != patient || form.Get("To") != clinic || form.Get("Body") != "STOP" {
		t.Errorf("form = %v", form)
	}
	u := "https://clinic.example.com/webhooks/twilio/inbound"
	v := client.NewRequestValidator(token)
	if !v.ValidateBody(u, []byte(form.Encode()), twiliotest.Sign(token, u, form)) {
		t.Error("inbound form signature rejected")
	}
}

func TestDeliverPostsSignedCallback(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type receipt struct {
		form  url.Values
		valid bool
	}
	got := make(chan receipt, 10)
	var cbURL string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		v := client.NewRequestValidator(f.token)
		got <- receipt{form: form, valid: v.ValidateBody(cbURL, body, r.Header.Get("X-Twilio-Signature"))}
	}))
	t.Cleanup(cb.Close)
	cbURL = cb.URL + "/webhooks/twilio/status"

	p := create(patient, "x")
	p.SetStatusCallback(cbURL)
	msg, err := f.api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.srv.Deliver(ctx, *msg.Sid, "undelivered", "30003"); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if !r.valid {
		t.Error("callback signature invalid")
	}
	want := map[string]string{"MessageSid": *msg.Sid, "SmsSid": *msg.Sid, "MessageStatus": "undelivered", "SmsStatus": "undelivered",
		"ErrorCode": "30003", "AccountSid": f.account, "To": patient, "From": clinic}
	for k, v := range want {
		if r.form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, r.form.Get(k), v)
		}
	}
	if m, _ := f.srv.Message(*msg.Sid); m.Status != "undelivered" || m.ErrorCode != 30003 {
		t.Errorf("stored = %+v", m)
	}

	// DeliverAll delivers only the messages not yet final.
	msg2, err := f.api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.DeliverAll(ctx); err != nil {
		t.Fatal(err)
	}
	r = <-got
	if r.form.Get("MessageSid") != *msg2.Sid || r.form.Get("MessageStatus") != "delivered" || r.form.Has("ErrorCode") {
		t.Errorf("DeliverAll posted %v", r.form)
	}
	select {
	case extra := <-got:
		t.Errorf("unexpected callback %v", extra.form)
	default:
	}

	fetched, err := f.api.FetchMessage(*msg.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *fetched.Status != "undelivered" || fetched.ErrorCode == nil || *fetched.ErrorCode != 30003 || fetched.ErrorMessage == nil {
		t.Errorf("fetched = %+v", fetched)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.FailNext(5, 500, 20500, "")
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			_, _ = f.api.CreateMessage(create(patient, "c"+strconv.Itoa(i)))
			_ = f.srv.Sent()
			_ = f.srv.Attempts()
		})
	}
	wg.Wait()
	if n := len(f.srv.Sent()); n != 35 {
		t.Errorf("stored %d, want 35", n)
	}
	if n := f.srv.AttemptsTo(patient); n != 40 {
		t.Errorf("attempts %d, want 40", n)
	}
}
