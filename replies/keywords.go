package replies

import "strings"

// Opt-out, opt-in and HELP.
//
// The FCC's 2024 revocation rule (47 CFR 64.1200(a)(10), in force since
// April 2025) requires honouring any reasonable way a patient says stop,
// not only the keyword STOP. A reply opts out when:
//
//   - the whole message, apart from politeness ("please", "thanks", "por
//     favor", "merci"), is a stop keyword in English, Spanish or French:
//     STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, ALTO,
//     PARAR, PARA, BAJA, CANCELAR, DETENER, NO MÁS, ARRÊT, ARRÊTEZ,
//     DÉSABONNER;
//   - one sentence of it is an unambiguous stop keyword ("STOP. Who is
//     this?"): STOP, STOPALL, UNSUBSCRIBE, OPTOUT, REVOKE, ALTO, ARRÊT;
//   - it asks in plain words ("please stop texting me", "no more messages",
//     "don't text me", "remove me from this list", "leave me alone",
//     "wrong number", "no me manden más mensajes", "darme de baja",
//     "arrêtez de m'envoyer des messages"), and that request is not itself
//     negated ("please don't stop texting me").
//
// Words that are keywords only as a whole message (CANCEL, END, QUIT, PARA,
// BAJA) stay ordinary words inside a sentence: "the bleeding won't stop",
// "can I stop using the serum?", "cancel my appointment" and "la hinchazón
// baja" are not opt-outs.

// politeness is dropped before a message is compared with the keywords.
var politeness = set(
	"please", "pls", "plz", "plse", "pleas", "plez", "pleeease", "now", "thanks", "thank", "you", "thx", "ty",
	"ok", "okay", "kindly", "sorry", "asap", "immediately", "right", "hi", "hello", "hey", "me", "just",
	"por", "favor", "porfa", "porfavor", "gracias", "ya", "hola", "ahora",
	"merci", "svp", "sil", "vous", "plait", "stp", "bonjour",
)

// stopWhole are keywords that opt out as the whole message (politeness
// aside). They are compared with the message's words run together, so
// "opt-out", "stop all" and "no más" are found too.
var stopWhole = set(
	"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "stopit", "stopthis", "quitit",
	"stoptexting", "stopmessaging", "nomore", "nomoretexts", "nomoremessages", "unsub", "remove", "removeme",
	"alto", "parar", "para", "paren", "pare", "detengan", "baja", "cancelar", "detener", "nomas", "nomasmensajes", "darmedebaja", "debaja",
	"desuscribir", "desuscribirme", "desinscribir", "basta", "bastaya", "yanoquiero", "noquiero", "nomasgracias", "enough",
	"arret", "arrete", "arreter", "arretez", "desabonner", "desabonnez", "desabonnezmoi", "desabonnement",
	"desinscrire", "desinscrivezmoi",
	"idontwantthese", "dontwantthese", "idontwantthis", "dontwantthis", "idontwantthem", "dontwantthem",
	"idontwantany", "idontwantanymore", "dontwantanymore", "idontwantthisanymore", "idontwanttheseanymore",
)

// stopSentence are keywords that opt out as one sentence of a longer
// message.
var stopSentence = set(
	"stop", "stopall", "unsubscribe", "optout", "revoke", "alto", "arret", "arretez", "desabonner", "stopit",
)

var startWhole = set("start", "unstop", "yes", "subscribe")

var helpWhole = set("help", "info", "ayuda", "aide", "information", "informacion")

// stopPhrases are plain-language requests to stop texting.
var stopPhrases = compileAll(
	// English
	"stop|quit|cease|stahp|stopp ... texting|texts|txts|txting|texing|textin|txtin|msging|msgin|msgng|mssging|mesaging|messeging|messaging|messages|msgs|sms|sending|contacting|emailing|emails|reminders|notifications|alerts|spam|spamming|bothering|harassing|harrassing",
	"stop|quit|cease|stahp|stopp text|txt|message|msg|contact|email me|us",
	"no more texts|text|messages|message|msgs|texting|sms|reminders|emails|notifications",
	"dont|never text|txt|message|msg|contact|sms|email|send|bother|spam|texting|messaging|contacting me|us",
	"do|please|you not text|txt|message|msg|contact|sms|email|send|bother|spam ... me|us",
	"dont|not|never want|wish|need|like ... texts|messages|msgs|texting|messaging|sms|reminders|notifications|contacted|emails",
	"no longer want|wish|need ... texts|messages|msgs|texting|messaging|sms|reminders|notifications|contacted|emails",
	"not|no interested|interesado|interesada",
	"prefer|rather|preferiria|prefiero not|no ... texts|text|messages|receive|contact|contacted|be|recibir|mensajes",
	"can|could|may|should|just|pls|please stop !using|taking|wearing|the|my|applying|putting|doing|washing|icing|it|by|worrying|scratching|picking|touching",
	"remove|delete|erase|unlist me",
	"please|pls|plz|kindly remove|delete|erase it|this|us !from|off|with|without|gently|carefully|myself|now",
	"remove|delete|erase|take ... from|off ... list|lists|database|system|contacts|texts|messages",
	"remove|delete|erase my|this number|cell|info|information|details|data",
	"take me off",
	"take my|this number|info|information|details|name ... off",
	"unsubscribe|unsuscribe|unsubscibe|unsub|unsubcribe|unsuscribed|unsubscribed|unsubscribing",
	"opt|opted|opting ... out",
	"optout|optingout",
	"cancel|cancell ... subscription|texts|messages|messaging|sms|reminders|alerts|notifications",
	"leave me alone",
	"enough ... texts|messages|texting|reminders",
	"wrong number",
	"not|isnt|no ... my|mi number|numero",
	"said|told|say|saying|means|meant|reply|replied stop",
	// Spanish
	"no me|nos envien|manden|mande|mandes|envies|escriban|escribas|contacten|envie|manda|envia|escriba|textees|texteen|molesten|sigan|vuelvan",
	"no me|nos sigan|vuelvan|sigas|vuelvas ... enviando|mandando|escribiendo|texteando|molestando|enviar|mandar|escribir|textear",
	"no envien|manden|mande|mandes|envies|escriban|escribas|contacten|textees|texteen",
	"no me interesa|interesan",
	"no mas mensajes|textos|msj|msjs|sms|recordatorios|notificaciones|correos",
	"no quiero|deseo|necesito ... mensajes|textos|sms|notificaciones|recordatorios|escriban|manden|envien|contacten",
	"dejen|deja|dejar|paren|pare|para|parar|detener|detengan|basta de ... enviar|mandar|escribir|enviarme|mandarme|escribirme|mensajes|textear|textearme|texto|textos|molestar|molestarme|contactarme|enviarnos",
	"paren|pare|detengan|cancelen|basta ... mensajes|textos|mensajitos|sms",
	"de baja",
	"borrame|borrenme|eliminenme|eliminame|sacame|saquenme|quitenme|quitame|bajenme",
	"eliminar|borrar|quitar|eliminen|borren|quiten|saquen ... mi|mis ... numero|datos|telefono",
	"cancelar|cancelen|cancela|cancelo ... mensajes|suscripcion|textos|notificaciones|recordatorios",
	"desuscrib*|desinscrib*|dessuscrib*",
	"dejame|dejenme en paz",
	"numero equivocado|incorrecto|erroneo",
	"equivocado de numero",
	// French
	"arret|arrete|arretez|arreter|arretes",
	"desabonn*|desinscri*",
	"plus de messages|sms|textos|texto",
	"veux|voulons|souhaite|souhaitons plus",
	"menvoyez|envoyez|mecrivez|ecrivez|contactez|menvoie|menvoyer plus",
)

// keywordOnly returns the message's words without politeness and
// repetition ("stop stop stop"), run together.
func keywordOnly(t *text, lo, hi int) string {
	var b strings.Builder
	prev := ""
	for _, tk := range t.toks[lo:hi] {
		if !politeness[tk.w] && tk.w != prev {
			b.WriteString(tk.w)
			prev = tk.w
		}
	}
	return b.String()
}

// stopTypo: a one-word message one typo away from STOP ("stpo", "stopp").
func stopTypo(s string) bool {
	return len(s) >= 4 && len(s) <= 5 && editDistanceAtMost1(s, "stop")
}

func inSetOrTypo(s string, words map[string]bool) bool {
	if words[s] {
		return true
	}
	if len(s) < minTypoLen-1 {
		return false
	}
	for w := range words {
		if len(w) >= minTypoLen && editDistanceAtMost1(s, w) {
			return true
		}
	}
	return false
}

// optOut reports whether the reply asks to stop texts, with the words
// that said so.
func optOut(t *text) (string, bool) {
	if len(t.toks) == 0 {
		return "", false
	}
	if k := keywordOnly(t, 0, len(t.toks)); inSetOrTypo(k, stopWhole) || stopTypo(k) {
		return t.words(0, len(t.toks)-1), true
	}
	for i := 0; i < len(t.toks); {
		lo, hi := t.toks[i].lo, t.toks[i].hi
		if k := keywordOnly(t, lo, hi); stopSentence[k] {
			return t.words(lo, hi-1), true
		}
		i = hi
	}
	for i := range t.toks {
		for k := range stopPhrases {
			e, ok := stopPhrases[k].match(t, i)
			if !ok {
				continue
			}
			if requestNegated(t, i) {
				continue
			}
			return t.words(i, e), true
		}
	}
	return "", false
}

// requestNegated: "please don't stop texting me", "no quiero darme de
// baja", and hypotheticals: "what happens if I reply STOP?".
func requestNegated(t *text, s int) bool {
	lo := t.toks[s].lo
	for k := s - 1; k >= lo && k >= s-3; k-- {
		if negators[t.toks[k].w] {
			return true
		}
	}
	for k := lo; k < s; k++ {
		if w := t.toks[k].w; w == "if" || w == "whether" {
			return true
		}
	}
	return false
}

func wholeIs(t *text, words map[string]bool) bool {
	return len(t.toks) > 0 && words[keywordOnly(t, 0, len(t.toks))]
}
