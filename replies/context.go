package replies

// How a cue's context can discount it. Each rule looks only inside the
// cue's clause, so "no fever, but it hurts" keeps the pain.

// Reasons a matched cue was not counted, as Explain shows them.
const (
	whyNegated      = "negated"
	whyResolved     = "resolved"
	whyMild         = "mild"
	whyHypothetical = "hypothetical"
)

// negators deny what follows within three words: "no fever", "I don't
// have any pain", "sin fiebre", "ya no está hinchado".
var negators = set(
	"no", "not", "never", "without", "none", "nor", "neither", "dont", "doesnt", "didnt", "isnt", "arent",
	"wasnt", "werent", "havent", "hasnt", "hadnt", "aint", "wont", "wouldnt", "cant", "cannot", "couldnt",
	"nothing", "zero", "nope", "barely", "hardly", "dosent", "doesent", "dnt", "didint", "havnt", "don",
	"doesn", "didn", "isn", "wasn", "aren", "hasn", "haven", "nothin", "nah",
	"sin", "ni", "nunca", "tampoco", "nada", "apenas", "pas", "sans",
)

// answerNo followed by startsSentence is an answer to a question, not a
// negation: SMS often drops the comma of "no, it's swollen".
var answerNo = set("no", "nope", "nah")

var startsSentence = set(
	"its", "it", "i", "im", "ive", "id", "my", "the", "this", "that", "thats", "theres", "there", "actually",
	"still", "she", "he", "we", "they", "your", "you", "now", "but", "and", "unfortunately", "sadly", "wait",
	"honestly", "today", "yesterday", "tonight", "lol", "omg",
)

// persist, between a negator and the sign, turns the negation into
// persistence: "won't stop bleeding", "can't stop scratching", "no para
// de sangrar", "nothing helps the pain".
var persist = set(
	"stop", "stops", "stopping", "stopped", "quit", "ease", "eases", "easing", "eased", "calm", "calming",
	"settle", "settling", "improve", "improving", "help", "helps", "helping", "helped", "relieve", "relieves",
	"para", "parar", "paro", "deja", "dejar", "dejo", "detiene", "detener", "quita", "quitar", "quito",
	"baja", "bajar", "calma", "mejora", "pasa", "cede", "ayuda", "arrete",
)

// negBlock ends a negation's reach: "not sure if it's infected" and "no sé
// si está infectado" are doubts, and doubts are alerted.
var negBlock = set(
	"if", "whether", "sure", "know", "knw", "certain", "think", "thinking", "believe", "seem", "seems", "si",
	"just", "only", "solo", "remember", "mind",
)

// Resolution after the sign, within five words: "the swelling went down",
// "the pain is better", "la hinchazón ya bajó". A negated resolution
// ("hasn't gone down", "no se quita") is persistence, not resolution.
var resolvedAfter = compileAll(
	"gone|better|improved|improving|improves|stopped|subsided|subsiding|cleared|clearing|resolved|settled|settling|disappeared|faded|fading|healed|less|lessened|lessening|reduced|reducing|calmed|calming|eased|easing|vanished|manageable|tolerable|bearable|soportable|bajando|bajado|quito|quitado|quitando|pasado|desaparecio|desaparecido|desapareciendo|mejor|mejoro|mejorando|paro|detuvo|calmo|desinflamo|disminuyo|disminuyendo|cedio|termino|disparu",
	"!go|to down !my|the|to|his|her|into|toward|towards|from|your|on|onto|over|both|each",
	"!go|to away",
	"bajo|baja !los|las|el|la|mis|mi|de|del|tus|sus|su|tu|un|una",
	"broke|broken !out",
	"se fue|fueron|quitaron|pasaron|bajaron|secaron|desinflamaron",
	"desaparecieron|mejoraron|quitaron|pasaron|bajaron",
	"ya paso",
)

// Resolution before the sign, within three words: "it stopped bleeding",
// "less swollen today", "se quitó la fiebre".
var resolvedBefore = compileAll(
	"stopped|less|reduced|decreased|menos|quito|paro|dejo|detuvo|desaparecio|cedio",
	"ya bajo",
)

// mildWords near a mild cue (four words before, six after, same clause)
// make it normal healing; intensifiers nearer (two words before, four after)
// make it a red flag again.
var mildWords = set(
	"little", "bit", "abit", "slightly", "slight", "mild", "mildly", "minor", "somewhat", "kinda", "tiny", "lil",
	"normal", "expected", "usual", "sunburn", "sunburnt", "sunburned", "poco", "poquito", "poquita", "leve",
	"levemente", "ligeramente", "ligero", "ligera", "quemadura", "peu", "leger", "legere", "touch",
)

var intensifiers = set(
	"very", "realy", "really", "reallly", "so", "soo", "sooo", "super", "extremely", "extreme", "badly", "bad",
	"worse", "worst", "worsening", "more", "bigger", "spreading", "spread", "shut", "severe", "severely",
	"terrible", "terribly", "horrible", "horribly", "awful", "awfully", "intense", "intensely", "unbearable",
	"huge", "massive", "lot", "lots", "too", "high", "increasing", "growing", "abnormal", "crazy", "insanely",
	"seriously", "unusual", "constantly", "constant", "nonstop",
	"muy", "mucho", "mucha", "muchisimo", "muchisima", "demasiado", "demasiada", "peor", "tanto", "tan",
	"bastante", "fuerte", "insoportable", "enorme", "cada", "aumentando", "creciendo", "mas", "grave", "trop",
)

// hypothetical markers up to eight words before a sign in its clause:
// "what if I get a fever?", "how do I avoid infection?". A description
// with doubt ("not sure if it's infected", "what do I do if it's
// oozing?") still counts.
var hypothetical = compileAll(
	"what if",
	"in case",
	"en caso",
	"avoid|avoiding|prevent|preventing|prevention|evitar|prevenir|protect|protects|protection|protecting|proteger",
	"chance|chances|risk|risks|riesgo|odds of|de",
	"watch|look out|for",
	"when should|do ... worry|call|concerned",
	"next|another|second|third|future|upcoming ... session|sessions|treatment|treatments|appointment|visit",
	"what|which ... signs|symptoms|sintomas|senales",
)

// future and futurePain: "will it hurt?", "would that sting?" ask about
// later, not now ("will this pus go away?" is about now).
var (
	future     = set("will", "would", "gonna", "might")
	futurePain = set("hurt", "sting", "burn", "be")
)

// transparent words do not count toward a negation's reach: "no signs of
// an allergic reaction", "no hay nada de pus".
var transparent = set(
	"or", "nor", "o", "signs", "sign", "of", "an", "a", "any", "the", "more", "real", "de", "la", "el", "los",
	"las", "un", "una", "mas", "evidence", "trace", "hint",
)

// discount says why a cue matched on toks[s..e] does not count, or "".
func discount(t *text, s, e int, mild bool) string {
	lo, hi := t.toks[s].lo, t.toks[s].hi
	if _, _, ok := findIn(t, hypothetical, max(lo, s-8), s); ok {
		return whyHypothetical
	}
	if s-2 >= lo && future[t.toks[s-2].w] && (t.toks[s-1].w == "it" || t.toks[s-1].w == "that") && futurePain[t.toks[s].w] {
		return whyHypothetical // "will it hurt?"
	}
	if negated(t, s, lo) {
		return whyNegated
	}
	if resolved(t, s, e, lo, hi) {
		return whyResolved
	}
	if mild && isMild(t, s, e, lo, hi) {
		return whyMild
	}
	return ""
}

// comparesNow reports "this", "so", "such" or "like" after token k in its
// clause: "never" then compares with now instead of denying.
func comparesNow(t *text, k int) bool {
	for j := k + 1; j < t.toks[k].hi; j++ {
		switch t.toks[j].w {
		case "this", "so", "such", "like", "tan", "tanto", "asi", "esto":
			return true
		}
	}
	return false
}

func negated(t *text, s, lo int) bool {
	reach := 0
	for k := s - 1; k >= lo && k >= s-6 && reach < 3; k-- {
		w := t.toks[k].w
		if !transparent[w] {
			reach++
		}
		if negBlock[w] {
			return false
		}
		if !negators[w] {
			continue
		}
		if answerNo[w] && k+1 < s && startsSentence[t.toks[k+1].w] {
			continue // "no its swollen": an answer, then a statement
		}
		if (w == "never" || w == "nunca") && comparesNow(t, k) {
			return false // "never been this swollen", "never had pain like this"
		}
		for j := k + 1; j < s; j++ {
			if persist[t.toks[j].w] || negBlock[t.toks[j].w] {
				return false
			}
		}
		return true
	}
	return false
}

// negatedNear reports a negator within two words before token r, not
// before lo.
func negatedNear(t *text, r, lo int) bool {
	for k := r - 1; k >= lo && k >= r-2; k-- {
		if negators[t.toks[k].w] {
			return true
		}
	}
	return false
}

// resolvedNext: the clause right after a sign starts by saying it is over
// ("had a fever last night, but it's gone now", "me sangró ayer pero ya
// no"). Only these openings count: "I have a fever, better call me" keeps
// the fever.
var resolvedNext = compileAll(
	"it|its|that|thats|now|then|which ... gone|better|stopped|away|cleared|resolved|subsided|healed",
	"not anymore",
	"no longer",
	"ya no",
	"ya paso|bajo|paro|termino",
	"ya se quito|fue|paso",
	"se quito|fue|paso",
)

func resolved(t *text, s, e, lo, hi int) bool {
	if e+1 < hi && t.toks[e+1].w == "free" { // "pain free"
		return true
	}
	if hi < len(t.toks) && hi-e <= 4 {
		for k := range resolvedNext {
			if _, ok := resolvedNext[k].match(t, hi); ok {
				return true
			}
		}
	}
	if r, _, ok := findIn(t, resolvedAfter, e+1, min(hi, e+6)); ok && !negatedNear(t, r, e+1) {
		return true
	}
	if r, _, ok := findIn(t, resolvedBefore, max(lo, s-3), s); ok && !negatedNear(t, r, lo) {
		return true
	}
	return false
}

// quantity words anywhere near a mild cue make it more than mild: "tons
// of little itchy dots", "itchy everywhere", "all over".
var quantity = set(
	"tons", "lots", "loads", "everywhere", "entire", "whole", "toda", "todo", "todas", "todos", "muchos", "muchas",
)

// worsening words in the clause right after a mild sign still count:
// "a bit swollen, but getting worse".
var worsening = set("worse", "worsening", "spreading", "bigger", "increasing", "peor", "aumentando", "creciendo", "empeorando")

func isMild(t *text, s, e, lo, hi int) bool {
	for k := hi; k < min(len(t.toks), hi+4); k++ {
		if worsening[t.toks[k].w] {
			return false
		}
	}
	for k := max(lo, s-2); k < min(hi, e+5); k++ {
		if k >= s && k <= e {
			continue
		}
		if w := t.toks[k].w; intensifiers[w] && !negatedNear(t, k, lo) {
			return false
		}
	}
	for k := max(lo, s-4); k < min(hi, e+7); k++ {
		if w := t.toks[k].w; quantity[w] || w == "all" && k+1 < hi && t.toks[k+1].w == "over" {
			return false
		}
	}
	for k := max(lo, s-4); k < min(hi, e+7); k++ {
		w := t.toks[k].w
		if !mildWords[w] {
			continue
		}
		if w == "normal" && negatedNear(t, k, lo) { // "this is not normal"
			return false
		}
		if w == "touch" && k > s { // "hot to the touch" is a cue, not a qualifier
			continue
		}
		return true
	}
	return false
}
