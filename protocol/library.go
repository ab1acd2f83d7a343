package protocol

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/aftercare/aftercare"
)

// NormalizeTreatment is how treatments are compared: trimmed, lower-case,
// inner runs of spaces folded to one ("Chemical  Peel " → "chemical peel").
func NormalizeTreatment(t string) string {
	return strings.Join(strings.Fields(strings.ToLower(t)), " ")
}

func validTreatment(t string) bool {
	if t == "" || len(t) > 60 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' || r == '-' || unicode.IsLetter(r) && unicode.IsLower(r)) {
			return false
		}
	}
	return true
}

// Library holds the protocols a daemon (or one clinic) can plan with, by
// treatment, language and version. It is immutable and safe for concurrent
// use; With returns a new library with more protocols on top.
type Library struct {
	// byKey holds each treatment and language's versions, lowest first.
	byKey map[libKey][]*Protocol
	// origin says where each protocol came from ("embedded",
	// "/etc/aftercare/protocols/peel.yaml", "clinic upload").
	origin map[*Protocol]string
	// chosen is a clinic's active version per treatment and language,
	// picked whatever its number; hidden versions (a clinic's uploads
	// that are not active) are found by Version only.
	chosen map[libKey]*Protocol
	hidden map[*Protocol]bool
}

type libKey struct{ treatment, language string }

// NewLibrary makes a library of protocols. A treatment, language and
// version may appear once.
func NewLibrary(ps ...*Protocol) (*Library, error) {
	return (&Library{}).with(ps, "")
}

// With returns a library with ps added; a protocol of the same treatment,
// language and version as one already in the library replaces it (a
// clinic's own version wins over the daemon's).
func (l *Library) With(origin string, ps ...*Protocol) (*Library, error) {
	return l.with(ps, origin)
}

func (l *Library) with(ps []*Protocol, origin string) (*Library, error) {
	out := &Library{byKey: make(map[libKey][]*Protocol), origin: make(map[*Protocol]string),
		chosen: make(map[libKey]*Protocol), hidden: make(map[*Protocol]bool)}
	if l != nil {
		for k, v := range l.byKey {
			out.byKey[k] = slices.Clone(v)
		}
		for p, o := range l.origin {
			out.origin[p] = o
		}
		for k, p := range l.chosen {
			out.chosen[k] = p
		}
		for p := range l.hidden {
			out.hidden[p] = true
		}
	}
	added := map[libKey]map[int]bool{}
	for _, p := range ps {
		if p == nil {
			return nil, errors.New("protocol library: nil protocol")
		}
		k := libKey{p.Treatment, p.Language}
		if added[k] == nil {
			added[k] = map[int]bool{}
		}
		if added[k][p.Version] {
			return nil, fmt.Errorf("protocol library: %s (%s) version %d given twice", p.Treatment, p.Language, p.Version)
		}
		added[k][p.Version] = true
		vs := slices.DeleteFunc(out.byKey[k], func(q *Protocol) bool { return q.Version == p.Version })
		vs = append(vs, p)
		slices.SortFunc(vs, func(a, b *Protocol) int { return a.Version - b.Version })
		out.byKey[k] = vs
		out.origin[p] = origin
	}
	return out, nil
}

// embedded are the protocols the daemon ships.
var embedded = [][]byte{defaultYAML, defaultESYAML}

// DefaultLibrary returns the embedded protocols.
func DefaultLibrary() (*Library, error) {
	var ps []*Protocol
	for _, src := range embedded {
		p, err := Parse(src)
		if err != nil {
			return nil, fmt.Errorf("embedded protocol: %w", err)
		}
		ps = append(ps, p)
	}
	return (&Library{}).with(ps, "embedded")
}

// DirFiles lists the protocol files of dir (*.yaml and *.yml), sorted;
// the caller lints and parses each (see app.LoadLibrary).
func DirFiles(dir string) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("protocol directory: %w", err)
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("protocol directory %s: %w", dir, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return files, nil
}

// WithClinic returns a clinic's library: its own versions on top of l.
// Each is found by Version (plans made with it keep it); the active one of
// a treatment and language is the one Latest and Pick give, whatever its
// number; the others are not picked.
func (l *Library) WithClinic(origin string, ps []*Protocol, active []bool) (*Library, error) {
	if len(ps) != len(active) {
		return nil, errors.New("protocol library: WithClinic needs one active flag per protocol")
	}
	out, err := l.with(ps, origin)
	if err != nil {
		return nil, err
	}
	for i, p := range ps {
		k := libKey{p.Treatment, p.Language}
		if active[i] {
			if out.chosen[k] != nil && out.chosen[k] != p && slices.Contains(ps, out.chosen[k]) {
				return nil, fmt.Errorf("protocol library: two active versions of %s (%s)", p.Treatment, p.Language)
			}
			out.chosen[k] = p
			continue
		}
		out.hidden[p] = true
	}
	return out, nil
}

// Origin says where p came from, as given to With.
func (l *Library) Origin(p *Protocol) string { return l.origin[p] }

// Treatments lists the library's treatments, sorted.
func (l *Library) Treatments() []string {
	var ts []string
	for k := range l.byKey {
		if _, ok := l.Latest(k.treatment, k.language); ok && !slices.Contains(ts, k.treatment) {
			ts = append(ts, k.treatment)
		}
	}
	slices.Sort(ts)
	return ts
}

// Languages lists the languages a treatment's protocol is written in,
// sorted.
func (l *Library) Languages(treatment string) []string {
	var ls []string
	for k := range l.byKey {
		if _, ok := l.Latest(k.treatment, k.language); ok && k.treatment == NormalizeTreatment(treatment) {
			ls = append(ls, k.language)
		}
	}
	slices.Sort(ls)
	return ls
}

// Latest returns the protocol a treatment is planned with in one
// language: the clinic's active version, else the highest version that is
// not a clinic's inactive upload.
func (l *Library) Latest(treatment, language string) (*Protocol, bool) {
	k := libKey{NormalizeTreatment(treatment), language}
	if p := l.chosen[k]; p != nil {
		return p, true
	}
	vs := l.byKey[k]
	for i := len(vs) - 1; i >= 0; i-- {
		if !l.hidden[vs[i]] {
			return vs[i], true
		}
	}
	return nil, false
}

// Version returns one version of a treatment's protocol in one language.
func (l *Library) Version(treatment, language string, version int) (*Protocol, bool) {
	for _, p := range l.byKey[libKey{NormalizeTreatment(treatment), language}] {
		if p.Version == version {
			return p, true
		}
	}
	return nil, false
}

// All returns every protocol, by treatment, language and version.
func (l *Library) All() []*Protocol {
	var out []*Protocol
	for _, vs := range l.byKey {
		out = append(out, vs...)
	}
	slices.SortFunc(out, func(a, b *Protocol) int {
		return cmpProtocols(a, b)
	})
	return out
}

func cmpProtocols(a, b *Protocol) int {
	if c := strings.Compare(a.Treatment, b.Treatment); c != 0 {
		return c
	}
	if c := strings.Compare(a.Language, b.Language); c != 0 {
		return c
	}
	return a.Version - b.Version
}

// Choice is the protocol picked for an enrollment and why.
type Choice struct {
	Protocol *Protocol
	// Note says when the protocol is not in the language asked for
	// ("no Spanish protocol for chemical peel; using English").
	Note string
}

// Pick chooses the protocol for treatment in language, falling back to
// the clinic's default language and then English (and saying so in
// Choice.Note). An unknown treatment is an *aftercare.Error on the field
// "treatment" that lists the treatments there are.
func (l *Library) Pick(treatment, language, clinicDefault string) (Choice, error) {
	t := NormalizeTreatment(treatment)
	if len(l.Languages(t)) == 0 {
		known := l.Treatments()
		if len(known) == 0 {
			return Choice{}, aftercare.FieldError("treatment", "no protocol is set up for any treatment")
		}
		return Choice{}, aftercare.FieldError("treatment", "%q has no protocol here; treatments offered: %s", treatment, strings.Join(known, ", "))
	}
	want := language
	for _, lang := range []string{language, clinicDefault, "en"} {
		if lang == "" {
			continue
		}
		if p, ok := l.Latest(t, lang); ok {
			c := Choice{Protocol: p}
			if want != "" && lang != want {
				c.Note = fmt.Sprintf("no %s protocol for %s; using %s", LanguageName(want), t, LanguageName(lang))
			}
			return c, nil
		}
	}
	// Neither asked-for language, the clinic's nor English: the first
	// there is.
	p, _ := l.Latest(t, l.Languages(t)[0])
	return Choice{Protocol: p, Note: fmt.Sprintf("no %s protocol for %s; using %s", LanguageName(cmp.Or(want, "en")), t, LanguageName(p.Language))}, nil
}

// LanguageName names a language code in English, for staff ("Spanish").
func LanguageName(code string) string {
	switch code {
	case "en":
		return "English"
	case "es":
		return "Spanish"
	}
	return code
}
