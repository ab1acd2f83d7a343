package replies

import (
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		kind Kind
		sign string // one sign that must be found, for red flags
	}{
		{"STOP", Stop, ""},
		{" stop ", Stop, ""},
		{"Stop.", Stop, ""},
		{"StopAll", Stop, ""},
		{"UNSUBSCRIBE", Stop, ""},
		{"cancel", Stop, ""},
		{"End", Stop, ""},
		{"quit", Stop, ""},
		{"START", Start, ""},
		{"unstop", Start, ""},
		{"Yes", Start, ""},
		{"help", Help, ""},
		{"HELP!", Help, ""},
		{"the bleeding won't stop", RedFlag, SignBleeding},
		{"please stop texting me about the swelling", RedFlag, SignSwelling},
		{"My face is really SWOLLEN", RedFlag, SignSwelling},
		{"sweling around my eyes", RedFlag, SignSwelling},
		{"swolen cheeks", RedFlag, SignSwelling},
		{"there is yellow pus", RedFlag, SignPus},
		{"some greenish-yellow discharge", RedFlag, SignPus},
		{"dischage from a spot", RedFlag, SignPus},
		{"I have a fever", RedFlag, SignFever},
		{"feverish and tired", RedFlag, SignFever},
		{"I got hives", RedFlag, SignRash},
		{"hive on my neck", RedFlag, SignRash},
		{"still bleeding a bit", RedFlag, SignBleeding},
		{"bleding", RedFlag, SignBleeding},
		{"severe pain tonight", RedFlag, SignPain},
		{"the pain is excruciating", RedFlag, SignPain},
		{"intense pain that does not ease", RedFlag, SignPain},
		{"I think it's an allergic reaction", RedFlag, SignAllergy},
		{"alergic to something", RedFlag, SignAllergy},
		{"it looks infected", RedFlag, SignInfection},
		{"Thanks, all good!", Other, ""},
		{"what time is my next appointment?", Other, ""},
		{"stop by tomorrow?", Other, ""},
		{"", Other, ""},
		{"Is it normal that my skin feels dry and tight?", Other, ""},
	}
	for _, tt := range tests {
		got := Classify(tt.body)
		if got.Kind != tt.kind {
			t.Errorf("Classify(%q) = %s %v, want %s", tt.body, got.Kind, got.Signs, tt.kind)
			continue
		}
		if tt.sign != "" && !slices.Contains(got.Signs, tt.sign) {
			t.Errorf("Classify(%q) signs = %v, want %q among them", tt.body, got.Signs, tt.sign)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"fever", "fever", true},
		{"fevr", "fever", true},
		{"feverr", "fever", true},
		{"fveer", "fever", true},
		{"fxvxr", "fever", false},
		{"swelling", "sweling", true},
		{"bleeding", "reading", false},
	}
	for _, tt := range tests {
		if got := editDistanceAtMost1(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistanceAtMost1(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"STOP", "swollen and pus", "\xff\xfe", "héllo wörld", "bleeding won't stop"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Classify(s)
		switch r.Kind {
		case Stop, Start, Help, RedFlag, Other:
		default:
			t.Fatalf("unknown kind %q", r.Kind)
		}
		if (r.Kind == RedFlag) != (len(r.Signs) > 0) {
			t.Fatalf("kind %s with signs %v", r.Kind, r.Signs)
		}
	})
}
