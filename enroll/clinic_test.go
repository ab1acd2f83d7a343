package enroll

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

// TestCheckPlanning: the planning settings are normalized when good, and
// every bad one is named at once.
func TestCheckPlanning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     aftercare.ClinicPlanning
		want   aftercare.ClinicPlanning
		fields string // the fields refused, in order; "" = accepted
		msg    string // part of the message of the first refused field
	}{
		{name: "defaults", in: aftercare.ClinicPlanning{}, want: aftercare.ClinicPlanning{}},
		{name: "all set, normalized",
			in: aftercare.ClinicPlanning{DefaultLanguage: " ES ", QuietHours: " 9:30 – 7:00 ", DailyTextCap: 3, WeeklyTextCap: 3,
				Treatments: []string{" Microneedling", "Chemical  Peel"}},
			want: aftercare.ClinicPlanning{DefaultLanguage: "es", QuietHours: "09:30-07:00", DailyTextCap: 3, WeeklyTextCap: 3,
				Treatments: []string{"microneedling", "chemical peel"}}},
		{name: "daytime window", in: aftercare.ClinicPlanning{QuietHours: "12:00-13:00"}, want: aftercare.ClinicPlanning{QuietHours: "12:00-13:00"}},
		{name: "empty list is nil", in: aftercare.ClinicPlanning{Treatments: []string{}}, want: aftercare.ClinicPlanning{}},
		{name: "weekly cap at the default daily cap", in: aftercare.ClinicPlanning{WeeklyTextCap: 2}, want: aftercare.ClinicPlanning{WeeklyTextCap: 2}},
		{name: "maxima", in: aftercare.ClinicPlanning{DailyTextCap: 3, WeeklyTextCap: 50}, want: aftercare.ClinicPlanning{DailyTextCap: 3, WeeklyTextCap: 50}},
		{name: "language", in: aftercare.ClinicPlanning{DefaultLanguage: "fr"}, fields: "default_language", msg: "en or es"},
		{name: "quiet hours without a dash", in: aftercare.ClinicPlanning{QuietHours: "21:00"}, fields: "quiet_hours", msg: "like 21:00-08:00"},
		{name: "quiet hours out of range", in: aftercare.ClinicPlanning{QuietHours: "25:00-08:00"}, fields: "quiet_hours", msg: "between 00:00 and 23:59"},
		{name: "quiet hours empty window", in: aftercare.ClinicPlanning{QuietHours: "08:00-8:00"}, fields: "quiet_hours", msg: "must differ"},
		{name: "daily cap negative", in: aftercare.ClinicPlanning{DailyTextCap: -1}, fields: "daily_text_cap", msg: "between 1 and 3"},
		{name: "daily cap above the consent's promise", in: aftercare.ClinicPlanning{DailyTextCap: 4}, fields: "daily_text_cap", msg: "between 1 and 3"},
		{name: "weekly below daily", in: aftercare.ClinicPlanning{DailyTextCap: 3, WeeklyTextCap: 2}, fields: "weekly_text_cap", msg: "daily cap (3)"},
		{name: "weekly below default daily", in: aftercare.ClinicPlanning{WeeklyTextCap: 1}, fields: "weekly_text_cap", msg: "daily cap (2)"},
		{name: "weekly too high", in: aftercare.ClinicPlanning{WeeklyTextCap: 51}, fields: "weekly_text_cap", msg: "and 50"},
		{name: "treatment twice", in: aftercare.ClinicPlanning{Treatments: []string{"Microneedling", "microneedling "}}, fields: "treatments", msg: `"microneedling" twice`},
		{name: "treatment empty", in: aftercare.ClinicPlanning{Treatments: []string{"microneedling", "  "}}, fields: "treatments", msg: "empty"},
		{name: "too many treatments", in: aftercare.ClinicPlanning{Treatments: strings.Fields("a b c d e f g h i j k l m n o p q r s t u")},
			fields: "treatments", msg: "lists 21 treatments; at most 20"},
		{name: "everything at once",
			in:     aftercare.ClinicPlanning{DefaultLanguage: "de", QuietHours: "late", DailyTextCap: 20, WeeklyTextCap: 99, Treatments: []string{"x", "X"}},
			fields: "default_language quiet_hours daily_text_cap weekly_text_cap treatments", msg: "en or es"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckPlanning(tc.in)
			var fields []string
			for _, e := range aftercare.AllErrors(err) {
				fields = append(fields, e.Field)
			}
			if f := strings.Join(fields, " "); f != tc.fields {
				t.Fatalf("refused fields %q, want %q (err %v)", f, tc.fields, err)
			}
			if tc.fields != "" {
				if aftercare.ErrorCode(err) != aftercare.EINVALID || !strings.Contains(aftercare.AllErrors(err)[0].Message, tc.msg) {
					t.Fatalf("error %v, want %s containing %q", err, aftercare.EINVALID, tc.msg)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCheckClinicIncludesPlanning: CheckClinic reports planning problems
// with the others, at once.
func TestCheckClinicIncludesPlanning(t *testing.T) {
	t.Parallel()
	c := aftercare.Clinic{Name: "Glow", Phone: "nope", Timezone: "America/New_York", AlertEmail: "a@example.com",
		ClinicPlanning: aftercare.ClinicPlanning{DefaultLanguage: "xx", DailyTextCap: 4}}
	_, err := CheckClinic(c)
	var fields []string
	for _, e := range aftercare.AllErrors(err) {
		fields = append(fields, e.Field)
	}
	if got := strings.Join(fields, " "); got != "phone default_language daily_text_cap" {
		t.Fatalf("fields %q (err %v)", got, err)
	}
	c.Phone, c.ClinicPlanning = "+14155550100", aftercare.ClinicPlanning{DefaultLanguage: "ES", QuietHours: "22:00-7:00"}
	got, err := CheckClinic(c)
	if err != nil || got.DefaultLanguage != "es" || got.QuietHours != "22:00-07:00" {
		t.Fatalf("got %+v, %v", got.ClinicPlanning, err)
	}
}

func TestUnknownTreatments(t *testing.T) {
	t.Parallel()
	known := []string{"microneedling", "Chemical Peel"}
	if err := UnknownTreatments([]string{"microneedling", "chemical peel"}, known); err != nil {
		t.Fatalf("known treatments refused: %v", err)
	}
	if err := UnknownTreatments(nil, nil); err != nil {
		t.Fatalf("no treatments refused: %v", err)
	}
	err := UnknownTreatments([]string{"botox", "microneedling", "Botox", "laser"}, known)
	all := aftercare.AllErrors(err)
	if len(all) != 1 || all[0].Field != "treatments" ||
		all[0].Message != `no protocol for "botox", "laser"; protocols exist for "chemical peel", "microneedling"` {
		t.Fatalf("got %v", err)
	}
}
