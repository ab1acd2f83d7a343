package replies

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// corpusRow is one labelled reply of testdata/corpus.tsv.
type corpusRow struct {
	line      int
	text      string
	kind      Kind
	emergency bool
	optOut    bool
	lang      string // "en", "es", or "" when not checked
	note      string
}

func readCorpus(t testing.TB) []corpusRow {
	t.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("corpus.tsv:%d: %d fields, want 6", n, len(f))
		}
		r := corpusRow{line: n, text: f[0], kind: Kind(f[1]), emergency: f[2] == "1", optOut: f[3] == "1", note: f[5]}
		switch r.kind {
		case Stop, Start, Help, RedFlag, Other:
		default:
			t.Fatalf("corpus.tsv:%d: unknown kind %q", n, f[1])
		}
		if f[2] != "0" && f[2] != "1" || f[3] != "0" && f[3] != "1" {
			t.Fatalf("corpus.tsv:%d: emergency and opt_out must be 0 or 1", n)
		}
		if r.emergency && r.kind != RedFlag {
			t.Fatalf("corpus.tsv:%d: an emergency is a red flag", n)
		}
		if r.kind == Stop && !r.optOut {
			t.Fatalf("corpus.tsv:%d: a stop opts out", n)
		}
		switch f[4] {
		case "en", "es":
			r.lang = f[4]
		case "-":
		default:
			t.Fatalf("corpus.tsv:%d: language %q, want en, es or -", n, f[4])
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCorpus is the classifier's proof: every red flag and emergency of
// the labelled corpus is caught (recall 100 %), every opt-out opts out,
// and on the other replies at least 95 % get exactly their label.
// Run `go test -run TestCorpus -v ./replies` to see the figures.
func TestCorpus(t *testing.T) {
	t.Parallel()
	rows := readCorpus(t)
	if len(rows) < 300 {
		t.Fatalf("corpus has %d replies, want at least 300", len(rows))
	}
	var (
		redFlags, redCaught     int
		emerg, emergCaught      int
		optOuts, optOutsCaught  int
		rest, restRight         int
		flagged, falseFlags     int
		falseEmerg, falseOptOut int
		langRows, langRight     int
		byKind                  = map[Kind]int{}
	)
	for _, r := range rows {
		byKind[r.kind]++
		got := Classify(r.text)
		where := func() string { return "corpus.tsv:" + itoa(r.line) + ": " + quote(r.text) }
		if got.Kind == RedFlag {
			flagged++
		}
		if r.kind == RedFlag {
			redFlags++
			if got.Kind == RedFlag {
				redCaught++
			} else {
				t.Errorf("%s: MISSED red flag, got %s (%s)", where(), got.Kind, got.Explain())
			}
		} else {
			rest++
			if got.Kind == r.kind && got.OptOut == r.optOut && !got.Emergency {
				restRight++
			} else {
				t.Logf("%s: got %s opt_out=%v (%s), want %s opt_out=%v", where(), got.Kind, got.OptOut, got.Explain(), r.kind, r.optOut)
			}
			if got.Kind == RedFlag {
				falseFlags++
			}
		}
		if r.emergency {
			emerg++
			if got.Emergency {
				emergCaught++
			} else {
				t.Errorf("%s: MISSED emergency (%s)", where(), got.Explain())
			}
		} else if got.Emergency {
			falseEmerg++
			t.Logf("%s: false emergency (%s)", where(), got.Explain())
		}
		if r.optOut {
			optOuts++
			if got.OptOut {
				optOutsCaught++
			} else {
				t.Errorf("%s: MISSED opt-out, got %s (%s)", where(), got.Kind, got.Explain())
			}
		} else if got.OptOut {
			falseOptOut++
			t.Logf("%s: false opt-out %q", where(), got.OptOutWords)
		}
		if r.lang != "" {
			langRows++
			if got.Language == r.lang {
				langRight++
			} else {
				t.Logf("%s: language %q, want %q", where(), got.Language, r.lang)
			}
		}
	}
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	t.Logf("corpus: %d replies (%d red_flag of which %d emergency, %d stop, %d start, %d help, %d other; %d opt-outs)",
		len(rows), byKind[RedFlag], emerg, byKind[Stop], byKind[Start], byKind[Help], byKind[Other], optOuts)
	t.Logf("recall: red flags %d/%d = %.1f %%, emergencies %d/%d = %.1f %%, opt-outs %d/%d = %.1f %%",
		redCaught, redFlags, pct(redCaught, redFlags), emergCaught, emerg, pct(emergCaught, emerg), optOutsCaught, optOuts, pct(optOutsCaught, optOuts))
	t.Logf("precision: red-flag alerts %d/%d = %.1f %% true; the rest (not red flags) %d/%d = %.1f %% classified exactly; false emergencies %d, false opt-outs %d",
		flagged-falseFlags, flagged, pct(flagged-falseFlags, flagged), restRight, rest, pct(restRight, rest), falseEmerg, falseOptOut)
	t.Logf("language: %d/%d = %.1f %%", langRight, langRows, pct(langRight, langRows))
	if p := pct(restRight, rest); p < 95 {
		t.Errorf("precision on the rest %.1f %%, want at least 95 %%", p)
	}
	if p := pct(flagged-falseFlags, flagged); p < 95 {
		t.Errorf("red-flag alert precision %.1f %%, want at least 95 %%", p)
	}
	if falseEmerg*20 > emerg {
		t.Errorf("%d false emergencies for %d true ones: a needless \"call 911\" must stay rare", falseEmerg, emerg)
	}
	if falseOptOut > 0 {
		t.Errorf("%d replies opted out that did not ask to: an unwanted opt-out silences a patient's aftercare", falseOptOut)
	}
	if p := pct(langRight, langRows); p < 90 {
		t.Errorf("language %.1f %% right, want at least 90 %%", p)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func quote(s string) string { return "\"" + s + "\"" }
