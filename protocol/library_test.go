package protocol

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

func TestLibraryPick(t *testing.T) {
	t.Parallel()
	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	files, err := DirFiles(filepath.Join("..", "testdata", "protocols"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("testdata/protocols: %v", files)
	}
	var ps []*Protocol
	for _, f := range files {
		p, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if lib, err = lib.With("testdata", ps...); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lib.Treatments(), ","); got != "chemical peel,microneedling" {
		t.Fatalf("treatments %q", got)
	}
	for _, c := range []struct {
		treatment, lang, clinic string
		want, note              string
		err                     string
	}{
		{"microneedling", "en", "", "microneedling/en", "", ""},
		{" Microneedling ", "", "", "microneedling/en", "", ""},
		{"Chemical  Peel", "en", "", "chemical peel/en", "", ""},
		{"chemical peel", "es", "", "chemical peel/en", "no Spanish protocol for chemical peel; using English", ""},
		{"chemical peel", "", "es", "chemical peel/en", "", ""},
		{"botox", "en", "", "", "", `treatment: "botox" has no protocol here; treatments offered: chemical peel, microneedling`},
	} {
		ch, err := lib.Pick(c.treatment, c.lang, c.clinic)
		if c.err != "" {
			if aftercare.ErrorMessage(err) != c.err || aftercare.ErrorCode(err) != aftercare.EINVALID {
				t.Errorf("Pick(%q): %v, want %q", c.treatment, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Pick(%q, %q): %v", c.treatment, c.lang, err)
		}
		if got := ch.Protocol.Treatment + "/" + ch.Protocol.Language; got != c.want || ch.Note != c.note {
			t.Errorf("Pick(%q, %q, %q) = %s %q, want %s %q", c.treatment, c.lang, c.clinic, got, ch.Note, c.want, c.note)
		}
	}
}

// A version of the same treatment and language replaces the one below it
// only for that version; the latest version wins a pick, and older
// versions stay findable for plans made with them.
func TestLibraryVersions(t *testing.T) {
	t.Parallel()
	v2 := setup(t) // the shipped version, then one above it
	v3, err := Parse([]byte(strings.Replace(string(DefaultYAML()), fmt.Sprintf("\nversion: %d\n", v2.Version),
		fmt.Sprintf("\nversion: %d\n", v2.Version+1), 1)))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := NewLibrary(v2)
	if err != nil {
		t.Fatal(err)
	}
	lib2, err := lib.With("clinic upload", v3)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := lib2.Latest("microneedling", "en"); p != v3 {
		t.Errorf("latest is version %d", p.Version)
	}
	if p, ok := lib2.Version("microneedling", "en", v2.Version); !ok || p != v2 {
		t.Errorf("version 2 not kept")
	}
	if p, _ := lib.Latest("microneedling", "en"); p != v2 {
		t.Errorf("With changed the library it was called on")
	}
	if lib2.Origin(v3) != "clinic upload" {
		t.Errorf("origin %q", lib2.Origin(v3))
	}
	if _, err := NewLibrary(v2, v2); err == nil {
		t.Error("the same version twice was accepted")
	}
}

func TestTreatmentAndLanguageKeys(t *testing.T) {
	t.Parallel()
	src := string(DefaultYAML())
	for _, c := range []struct{ from, to, err string }{
		{"\nlanguage: en\n", "\nlanguage: fr\n", `language: "fr" is not one of en, es`},
		{"\ntreatment: microneedling\n", "\ntreatment: \"Micro/needling\"\n", `treatment: "micro/needling" must be`},
	} {
		_, err := Parse([]byte(strings.Replace(src, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.to, err, c.err)
		}
	}
	p, err := Parse([]byte(strings.NewReplacer("\ntreatment: microneedling\n", "\n", "\nlanguage: en\n", "\n").Replace(src)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Treatment != "microneedling" || p.Language != "en" {
		t.Errorf("defaults: treatment %q language %q", p.Treatment, p.Language)
	}
}

// A clinic's active version is picked even when its number is below the
// daemon's; an inactive upload is found by version only and adds no
// treatment.
func TestLibraryWithClinic(t *testing.T) {
	t.Parallel()
	base, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	src := string(DefaultYAML())
	own, err := Parse([]byte(strings.Replace(src, "\nversion: 3\n", "\nversion: 1\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	peelSrc, err := os.ReadFile(filepath.Join("..", "testdata", "protocols", "example-chemical-peel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	peel, err := Parse(peelSrc)
	if err != nil {
		t.Fatal(err)
	}
	daemon, _ := base.Latest("microneedling", "en")

	lib, err := base.WithClinic("clinic 3", []*Protocol{own, peel}, []bool{false, false})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := lib.Latest("microneedling", "en"); p != daemon {
		t.Errorf("an inactive upload (version %d) is picked", p.Version)
	}
	if p, ok := lib.Version("microneedling", "en", 1); !ok || p != own {
		t.Error("an inactive upload is not found by its version")
	}
	if slices.Contains(lib.Treatments(), "chemical peel") {
		t.Errorf("an inactive upload adds its treatment: %v", lib.Treatments())
	}
	if _, err := lib.Pick("chemical peel", "en", ""); err == nil {
		t.Error("an inactive treatment was picked")
	}

	lib, err = base.WithClinic("clinic 3", []*Protocol{own, peel}, []bool{true, true})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := lib.Latest("microneedling", "en"); p != own {
		t.Error("the clinic's active version is not picked")
	}
	if ch, err := lib.Pick("chemical peel", "en", ""); err != nil || ch.Protocol != peel {
		t.Errorf("active peel: %v", err)
	}
	if p, _ := lib.Latest("microneedling", "es"); p == nil || p.Language != "es" {
		t.Error("the clinic's English version hid the daemon's Spanish one")
	}
}
