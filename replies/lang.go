package replies

import "strings"

// Language is told from everyday words that belong to one language only
// (articles, pronouns, common verbs, and the sign and keyword words).
// Words both languages share ("no", "me", "pus", "normal") do not count.

var englishWords = set(
	"the", "an", "i", "im", "ive", "id", "ill", "my", "is", "it", "its", "and", "to", "of", "have", "has",
	"had", "you", "your", "thanks", "thank", "thx", "hi", "hello", "hey", "face", "skin", "hurts", "hurt", "pain",
	"painful", "fever", "swollen", "swelling", "bleeding", "stop", "help", "yes", "start", "please", "can", "will",
	"what", "when", "how", "this", "that", "not", "dont", "day", "today", "tomorrow", "use", "still", "feel",
	"feels", "feeling", "like", "very", "so", "really", "little", "bit", "red", "are", "was", "be", "do", "does",
	"should", "with", "after", "on", "in", "just", "all", "good", "great", "okay", "am", "got", "get",
	"some", "any", "there", "here", "wear", "makeup", "sunscreen", "itchy", "bumps", "burning", "hot", "warm",
	"touch", "crusty", "yellow", "scabs", "faint", "dizzy", "breathe", "throat", "lips", "eyes", "unsubscribe",
	"cancel", "quit", "end", "text", "texting", "texts", "messages", "message", "remove", "list", "wrong",
	"number", "leave", "alone", "more", "want", "need", "info", "is", "sore", "tight", "dry",
	"flaking", "peeling", "redness", "retinol", "serum", "wash", "water", "tonight", "morning", "week",
	"appointment", "again", "thats", "im", "were", "we", "she", "her", "he", "his", "weird", "look", "looks",
	"bleed", "blood", "chills", "rash", "hives", "oozing", "discharge", "green", "shut", "worse", "better",
	"gone", "down", "went", "anymore", "opt", "out", "trouble", "breathing", "breath", "cant", "passed",
	"almost", "cheeks", "running", "temperature", "since", "last", "night", "fevr", "bleding", "dark", "patches",
	"showing", "up", "slightly", "tender", "swolen", "infected", "infection", "pimples", "lightheaded",
	"dizziness", "ouch", "owww", "theres", "scab", "forming", "ty", "enough", "nosebleed", "lol", "questions",
	"issues", "concerns", "problems", "stopp", "stpo", "unsubscrbe", "itch", "itching", "pain-free", "fine", "who", "why", "where", "from", "for", "but", "or", "if", "feels", "sure",
)

var spanishWords = set(
	"el", "la", "los", "las", "de", "del", "que", "y", "mi", "mis", "tengo", "tiene", "muy", "mucho", "mucha",
	"es", "esta", "estoy", "hay", "por", "para", "con", "sin", "una", "un", "ya", "se", "le", "lo", "cara",
	"piel", "duele", "dolor", "fiebre", "hinchazon", "hinchado", "hinchada", "sangra", "sangrado", "arde",
	"ronchas", "comezon", "respirar", "puedo", "desmaye", "mareada", "mareado", "gracias", "hola", "si", "bien",
	"todo", "alto", "parar", "baja", "cancelar", "detener", "mensajes", "mas", "ayuda", "quiero", "favor",
	"buenos", "dias", "tardes", "noches", "ojos", "labios", "garganta", "granitos", "costras", "amarillo",
	"verde", "usar", "crema", "cuando", "como", "esto", "eso", "pica", "picazon", "manchas", "rojo", "roja",
	"enrojecimiento", "calentura", "escalofrios", "desmayo", "mareo", "ahora", "hoy", "ayer", "manana", "dia",
	"semana", "maquillaje", "protector", "solar", "puede", "pero", "tambien", "pasa", "porque", "creo", "siento",
	"dejen", "envien", "manden", "numero", "equivocado", "nada", "poco", "poquito", "todavia", "aun", "salio",
	"salieron", "supura", "temperatura", "quema", "sangre", "tragar", "aire", "falta", "desmayar", "te",
	"usted", "ustedes", "su", "sus", "estan", "son", "fue", "era", "tuve", "algo", "otra", "vez", "dejenme", "paz", "sigue", "sangrando", "hinchason", "sesiones", "necesito",
	"cuantas", "cuando", "puedo", "dio", "alergia", "desuscribirme", "basta", "interesa", "voy", "tarde",
	"llego", "minutos", "preguntas", "problemas", "cita", "citas", "gracias!", "hinchada", "inchada", "granitos", "ardor", "tengo", "siento", "quiero",
)

// guessLanguage returns "en", "es" or "" when it cannot tell. Spanish
// punctuation and letters (¿, ¡, ñ, á, í, ó, ú; not é, which French
// shares) count for Spanish.
func guessLanguage(t *text) string {
	en, es := 0, 0
	if strings.ContainsAny(t.body, "¿¡ñÑáíóúÁÍÓÚ") {
		es++
	}
	for _, tk := range t.toks {
		if englishWords[tk.w] {
			en++
		}
		if spanishWords[tk.w] {
			es++
		}
	}
	switch {
	case en > es:
		return "en"
	case es > en:
		return "es"
	}
	return ""
}
