package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// GET /v1/clinic shows the calling clinic's settings; PATCH /v1/clinic
// changes the editable ones with a JSON merge patch (RFC 7386): a member
// sets a setting, null resets it to the daemon's default (or clears it),
// a missing member leaves it as it is. The result is checked whole, every
// problem reported at once in the order of the patch's members, and
// written once (the store audits the names of the fields that changed);
// on any problem nothing is written.

// clinicPatchFields are the settings PATCH /v1/clinic changes, in the
// order ClinicSettings shows them.
var clinicPatchFields = []string{"timezone", "booking_url", "after_hours_phone", "default_language",
	"quiet_hours", "daily_text_cap", "weekly_text_cap", "treatments"}

// clinicFieldsElsewhere are a clinic's settings that PATCH /v1/clinic
// does not change, with where they are changed.
var clinicFieldsElsewhere = map[string]string{
	"id": "is the clinic's id and never changes", "created_at": "never changes",
	"name":                  "cannot be changed through the API (the clinic's admins change it in the console)",
	"phone":                 "cannot be changed through the API (the clinic's admins change it in the console)",
	"alert_email":           "cannot be changed through the API: red-flag alert routes are changed in the console",
	"on_call_phone":         "cannot be changed through the API: red-flag alert routes are changed in the console",
	"reply_to":              "cannot be changed through the API (the clinic's admins change it in the console)",
	"sms_from":              "cannot be changed through the API: sender settings are the operator's (aftercare clinic update)",
	"messaging_service_sid": "cannot be changed through the API: sender settings are the operator's (aftercare clinic update)",
	"email_from":            "cannot be changed through the API: sender settings are the operator's (aftercare clinic update)",
}

func (s *Server) getClinic(w http.ResponseWriter, r *http.Request) {
	caller, _ := ClinicFrom(r.Context())
	c, err := s.store.Clinic(r.Context(), caller.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newClinicSettings(c))
}

func (s *Server) patchClinic(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	caller, _ := ClinicFrom(ctx)
	body, err := readBody(r, "application/merge-patch+json", "application/json")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	patch, err := parseMergePatch(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done, err := s.admit(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	old, checked, err := s.applyClinicPatch(ctx, caller.ID, patch)
	if err == nil {
		err = s.store.UpdateClinic(ctx, checked)
	}
	done()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if changed := store.ChangedClinicFields(old, checked); len(changed) > 0 {
		s.log.InfoContext(ctx, "clinic settings changed", "clinic_id", caller.ID, "changed", strings.Join(changed, ","))
	}
	writeJSON(w, http.StatusOK, newClinicSettings(checked))
}

// applyClinicPatch reads the clinic, applies the patch and checks the
// result whole: the clinic as it was, as it is to be stored, and every
// problem at once, ordered like the patch's members.
func (s *Server) applyClinicPatch(ctx context.Context, clinicID int64, patch []patchMember) (aftercare.Clinic, aftercare.Clinic, error) {
	old, err := s.store.Clinic(ctx, clinicID)
	if err != nil {
		return old, old, err
	}
	c := old
	var problems []*aftercare.Error
	bad := map[string]bool{}
	refuse := func(field, format string, args ...any) {
		problems = append(problems, aftercare.FieldError(field, format, args...))
		bad[field] = true
	}
	str := func(dst *string, raw json.RawMessage, field string) {
		if isNull(raw) {
			*dst = ""
			return
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			refuse(field, "must be a string, or null for none")
		}
	}
	num := func(dst *int, raw json.RawMessage, field string) {
		if isNull(raw) {
			*dst = 0
			return
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			refuse(field, "must be a whole number, or null for the default")
		}
	}
	for _, m := range patch {
		switch m.name {
		case "timezone":
			str(&c.Timezone, m.value, m.name)
		case "booking_url":
			str(&c.BookingURL, m.value, m.name)
		case "after_hours_phone":
			str(&c.AfterHoursPhone, m.value, m.name)
		case "default_language":
			str(&c.DefaultLanguage, m.value, m.name)
		case "quiet_hours":
			str(&c.QuietHours, m.value, m.name)
		case "daily_text_cap":
			num(&c.DailyTextCap, m.value, m.name)
		case "weekly_text_cap":
			num(&c.WeeklyTextCap, m.value, m.name)
		case "treatments":
			c.Treatments = nil
			if !isNull(m.value) {
				if err := json.Unmarshal(m.value, &c.Treatments); err != nil {
					refuse(m.name, "must be a list of treatment names, or null for every treatment")
				}
			}
		default:
			if msg, ok := clinicFieldsElsewhere[m.name]; ok {
				refuse(m.name, "%s", msg)
			} else {
				refuse(m.name, "unknown field; the settings PATCH /v1/clinic changes are %s", strings.Join(clinicPatchFields, ", "))
			}
		}
	}
	checked, err := enroll.CheckClinic(c)
	for _, e := range aftercare.AllErrors(err) {
		if !bad[e.Field] {
			problems = append(problems, e)
			bad[e.Field] = true
		}
	}
	if patched(patch, "treatments") && !bad["treatments"] && len(checked.Treatments) > 0 {
		known, err := s.treatments(ctx, clinicID)
		if err != nil {
			return old, old, fmt.Errorf("list treatments of clinic %d: %w", clinicID, err)
		}
		problems = append(problems, aftercare.AllErrors(enroll.UnknownTreatments(checked.Treatments, known))...)
	}
	if len(problems) == 0 {
		return old, checked, nil
	}
	// In the order of the patch's members; problems with settings the
	// patch did not touch (stored before they were checked) last.
	order := func(field string) int {
		if i := slices.IndexFunc(patch, func(m patchMember) bool { return m.name == field }); i >= 0 {
			return i
		}
		return len(patch)
	}
	slices.SortStableFunc(problems, func(a, b *aftercare.Error) int { return order(a.Field) - order(b.Field) })
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return old, old, errors.Join(errs...)
}

// patchMember is one member of a JSON merge patch, in the order given.
type patchMember struct {
	name  string
	value json.RawMessage
}

func patched(patch []patchMember, name string) bool {
	return slices.ContainsFunc(patch, func(m patchMember) bool { return m.name == name })
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// parseMergePatch reads a JSON object's members in order. A member given
// twice is refused: which one a merge patch means is not clear.
func parseMergePatch(body []byte) ([]patchMember, error) {
	malformed := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &httpError{status: http.StatusBadRequest, code: "bad_json", msg: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
		}
		return &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "malformed JSON body"}
	}
	if !json.Valid(body) {
		var v any
		return nil, malformed(json.Unmarshal(body, &v))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, aftercare.Errorf(aftercare.EINVALID, "body must be a JSON object: a merge patch of the clinic's settings")
	}
	var out []patchMember
	var twice []error
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(err)
		}
		if patched(out, name) {
			twice = append(twice, aftercare.FieldError(name, "given twice"))
			continue
		}
		out = append(out, patchMember{name: name, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "trailing data after the JSON object"}
	}
	if len(twice) > 0 {
		return nil, errors.Join(twice...)
	}
	return out, nil
}

// embeddedTreatments lists the treatments of the protocols built into the
// daemon, for a server given no Treatments.
func embeddedTreatments(context.Context, int64) ([]string, error) {
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		return nil, err
	}
	return lib.Treatments(), nil
}
