package twiliotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
)

// Sign computes Twilio's X-Twilio-Signature for a webhook request: the
// base64 of HMAC-SHA1, keyed with the auth token, over the URL exactly as
// given followed by each parameter name and value, names sorted (a name with
// several values contributes each value, in order).
func Sign(authToken, rawURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(rawURL))
	for _, k := range keys {
		for _, v := range params[k] {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// InboundForm builds the form Twilio posts to a number's incoming-message
// webhook when a patient texts the clinic: from is the patient, to is the
// clinic's Twilio number. Sign it with Sign for the webhook's public URL.
func InboundForm(accountSID, from, to, body string) url.Values {
	sid := NewSID("SM")
	return url.Values{
		"ToCountry":     {"US"},
		"ToState":       {""},
		"SmsMessageSid": {sid},
		"NumMedia":      {"0"},
		"ToCity":        {""},
		"FromZip":       {""},
		"SmsSid":        {sid},
		"FromState":     {""},
		"SmsStatus":     {"received"},
		"FromCity":      {""},
		"Body":          {body},
		"FromCountry":   {"US"},
		"To":            {to},
		"ToZip":         {""},
		"NumSegments":   {strconv.Itoa(segments(body))},
		"MessageSid":    {sid},
		"AccountSid":    {accountSID},
		"From":          {from},
		"ApiVersion":    {APIVersion},
	}
}
