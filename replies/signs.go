package replies

// The red-flag lexicon. Each sign of the care guide's "call your
// practitioner" list (excessive swelling, intense pain that doesn't ease,
// pus or greenish-yellow discharge, fever, hives, bleeding that won't stop,
// skin discoloration) and each sign that needs emergency services first is
// a list of cues: word patterns (see pattern) in English and Spanish,
// written on folded text (lower case, no accents, no apostrophes: "won't"
// is "wont", "hinchazón" is "hinchazon").
//
// A cue marked mild (m(...)) names something the guide calls normal in a
// mild form (minor swelling, a sunburn-like warmth, some soreness or
// itching): it is not counted when the clause says it is mild ("a bit
// swollen", "feels warm like a sunburn", "is it normal to be swollen?")
// and nothing says it is strong or getting worse ("a bit swollen and
// getting worse"). Every other cue counts whatever the qualifier: "it
// hurts a little" is a red flag.

type sign struct {
	name      string
	emergency bool
	cues      []cue
}

type cue struct {
	p    pattern
	mild bool
}

func a(srcs ...string) []cue { return cues(false, srcs) }
func m(srcs ...string) []cue { return cues(true, srcs) }

func cues(mild bool, srcs []string) []cue {
	out := make([]cue, len(srcs))
	for i, s := range srcs {
		out[i] = cue{p: compile(s), mild: mild}
	}
	return out
}

func join(lists ...[]cue) []cue {
	var out []cue
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Sign names, as alerts show them.
const (
	SignBreathing     = "trouble breathing"
	SignThroat        = "throat, lips or tongue swelling"
	SignFainting      = "fainting or dizziness"
	SignAnaphylaxis   = "anaphylaxis"
	SignPain          = "pain or burning"
	SignHeat          = "hot to the touch"
	SignRedStreaks    = "red streaks or spreading redness"
	SignPus           = "pus or discharge"
	SignRash          = "rash, hives or itching"
	SignBlisters      = "blisters or open sores"
	SignSwelling      = "swelling"
	SignBleeding      = "bleeding"
	SignFever         = "fever or chills"
	SignDiscoloration = "skin discoloration"
	SignInfection     = "infection"
	SignAllergy       = "allergic reaction"
	SignEmergencyCare = "emergency care sought"
)

// notHot: "hot water", "warm shower" and the like are not symptoms.
const notHot = "!water|shower|showers|bath|baths|yoga|weather|outside|out|today|tonight|here|day|days|coffee|tea|drink|drinks|tub|compress|compresses|towel|cloth|room|car|sauna|saunas|steam|food|pack|packs|temperatures|climate|summer|sun|pilates|class|spring|springs|outdoors"

// signs in the order alerts list them: emergencies first.
var signs = []sign{
	{name: SignBreathing, emergency: true, cues: a(
		"cant|cannot|cnt|unable|hardly|barely|struggling|struggle|trouble|troubles|difficulty|difficult|hard|problem|problems|issues ... breathe|breath|breathing|breth|brething|breate|breathin|breahte|breathe",
		"short|shortness|shortnes ... breath|breathe|breathing|breth",
		"breathing|breath|breathe ... hard|difficult|labored|laboured|harder|tough|=shallow|struggle",
		"out of breath",
		"wheez*|gasping|choking",
		"chest ... tight|tightness|tighten*|closing|pressure|heavy|pain|hurts",
		"tight|tightness|pressure|pain|heaviness ... chest",
		"no puedo|puede|podia ... respirar|respiro|respirando",
		"cuesta|costaba|costando|costo|cueste|dificultad|dificil|problema|problemas ... respirar|respiro|respirando",
		"falta|faltaba|falto ... aire",
		"sin aire",
		"ahog*",
		"pecho ... apretado|presion|cerrado|dolor|duele",
	)},
	{name: SignThroat, emergency: true, cues: a(
		"throat|troat|throut|thraot ... swell*|swollen|swolen|swole|puff*|tight|tighter|tightening|closing|closed|close|thick|huge|bigger|enlarged",
		"throat|troat|throut|garganta ... weird|funny|strange|odd|rara|raro|extrana|extrano",
		"lip|lips|tongue|tounge|tonge ... swell*|swollen|swolen|swole|puff*|thick|huge|bigger|enlarged|ballooning|balloon*|blew|blown|=blowing",
		"swell*|swollen|swolen|swole|puffy ... throat|troat|lip|lips|tongue|tounge",
		"cant|cannot|trouble|hard|difficulty|difficult|struggling|problems ... swallow|swallowing|swalow",
		"garganta|labio|labios|lengua ... hinch*|inch*|inflam*|cierr*|cerr*|apretad*",
		"hinch*|inchad*|inflam* ... garganta|labio|labios|lengua",
		"cierra|cierre|cerrando|cerro|cerrado|cerrada ... garganta",
		"no puedo|puede ... tragar",
		"cuesta|dificultad|dificil ... tragar",
	)},
	{name: SignFainting, emergency: true, cues: a(
		"fainted|fainting|faintish|fainty|fanted|faintd|feinted|fainteded",
		"faint|feint|fiant|faimt|faintt !red|redness|pink|pinkness|marks|mark|lines|line|scar|scars|spot|spots|glow|tint|color|colour|trace|traces|hint|smell|sound|light|dot|dots|bruise|bruising|discoloration|patch|patches|shadow|outline|reddish|redish|hue|blush|flush|scab|scabs|lingering|sheen",
		"pass|passed|passing|passes|pased out",
		"black|blacked|blacking out",
		"dizzy|dizzie|dizy|dizzey|dizzi|dissy|dizzyness|dizziness|diziness|dizzines|lightheaded|lighthead*|woozy|vertigo",
		"light headed",
		"room ... spinning",
		"desmay*|desmalle|desmaie",
		"mareo|mareos|mareada|mareado|mareadas|mareados|mariada|mariado|mariadas|maree|mareando|mareandome|mareaba|mareas|marea",
		"perdi ... conocimiento|sentido",
		"evanoui*|vertige*",
	)},
	{name: SignAnaphylaxis, emergency: true, cues: a(
		"anaphyla*|anafila*|anafilax*|epipen|epipens|epinephrine|adrenalina",
		"epi pen",
	)},
	{name: SignPain, cues: join(a(
		"pain|pains|paiin|painn|pian|dolor|dolores|douleur !reliever|relievers|killer|killers|meds|med|medication|medications|medicine|pills|relief|management|tolerance|threshold|calmante|calmantes",
		"painful|painfull|painfully|hurt|hurts|hurting|hurtin|hurst|hurtz|hurtss|hutrs|huts|burn|burns|burning|burnin|burned|burnt|buring|burnig|throb*|trobbing|=pounding|agony|agoniz*|excruciat*|excrutiat*|unbearabl*|insoportable",
		"duele|duelen|duela|duelan|doler|dolido|dolida|dolian|ardido|dolia|dolio|doliendo|doloroso|dolorosa|adolorid*|dolorid*|arde|arden|ardia|ardor|ardiendo|quema|quemando|quemazon|punzada*|punzante|palpita*|brule|brulure",
		"stabbing|stab|stabbed|shooting|piercing",
		"ouch|ouchie|ouchy|ow|oww*|owie|auch|auu*",
		"sunburn|sunburnt|sunburned|quemadura ... worse|peor",
		"worse|peor ... sunburn|sunburnt|quemadura",
		"killing me",
		"on fire",
	), m(
		"sore|sorer|soreness|tender|tenderness|ache|aches|aching|achy|achey|sting|stings|=stinging|molesta|molestia|molestias|irritated|irritation|irritada|irritado|irritacion",
	))},
	{name: SignHeat, cues: join(a(
		"hot|hott|warm|warmer|hotter|caliente|calor ... touch|tacto|tocar|toco|touching|touched",
		"hot|hott|warm|caliente and|y red|swollen|hard|tender|angry|roja|rojo|hinchada|hinchado",
		"red|burning hot",
		"red|swollen|hard|angry|roja|rojo|hinchada|hinchado and|y hot|hott|warm|caliente",
	), m(
		"feel|feels|feeling|felt|is|are|getting|gets|got|so|very|really|super|too|extremely|burning|skin|face|cheeks|forehead|still hot|hott|warm|warmer|hotter "+notHot,
		"!agua|ducha|bano|compresa|compresas|te|cafe|banos caliente|calientes",
		"tengo|siento|siente|sensacion|sintiendo ... calor",
	), a(
		"radiat*|coming|giving|gives|pouring|emanating ... heat|warmth|calor",
		"heat|warmth|calor ... coming|radiat*|sale|saliendo",
	))},
	{name: SignRedStreaks, cues: a(
		"red|reddish|redish|pink ... streak*|streek*|line|lines|stripe*|track*",
		"streak|streaks|streaky|streaking|streeks",
		"rayas|lineas|franjas|vetas ... roja|rojas|rojo|rojos|rojizas|rojizos",
		"redness|red|redder|rojez|rojo|roja|enrojecimiento|enrojecida|enrojecido|rojiza ... spread*|spreding|worse|worsening|growing|bigger|expanding|extiende|extendiendo|peor|aumenta|aumentando|crece|creciendo",
		"spreading|expanding|growing|worsening|worse redness|red",
		"redder|reder|reddening",
		"more red",
		"mas roja|rojo|rojiza|rojizo",
	)},
	{name: SignPus, cues: a(
		"pus|puss|pussy|pussing|pusy|pustul*|ooz*|oze|ozing|weep*|wepping|discharg*|dischage|drainage|draining|seep*|=leaking|leaky|crust*|curst*|scab*|skab*|goo|gooey|gunk|gunky|yellowish|greenish|yelowish|yellowy|yellowness|greeny|supur*|secrecion*|costr*|postill*|amarillent*|verdos*",
		"fluid|liquid|liquido|liquida|fluids|liquids !foundation|makeup|concealer|sunscreen|serum|serums|soap|cleanser|cleansers|diet|intake|highlighter|blush|moisturizer|moisturiser|base|maquillaje",
		"!te|luz|leafy yellow|yelow|yello|yellw|green|amarillo|amarilla|amarillos|amarillas|verde|verdes !tea|light|lights|card|dress|shirt|top|bottle|box|tube|cap|label|car|bag|one|juice|juices|smoothie|smoothies|vegetables|veggies|apple|apples|pepper|peppers|te|color|colour|serum|cream|concealer|corrector|primer|mask|masks|vitamin|vitamins|beans|leaves",
	)},
	{name: SignRash, cues: join(a(
		"hive|hives|hivey|hivez|welt*|welp|welps|acne|cystic|cyst|cysts|quiste|quistes|rash|rashes|rashy|rahs|bump|bumps|lump|lumps|pimple*|pimpel*|whitehead*|zit|zits|pustul*|breakout*|blotch*|splotch*|urticaria|ronch*|sarpullido|salpullido|erupcion*|granit*|grano|granos|barros|espinilla*|brote|brotes|bultos|bolitas|bulto|boutons|plaques",
		"white heads",
		"breaking|broke|broken|braking out",
	), m(
		"itch|itchy|itching|itches|itchiness|itchyness|itchey|itchie|ichy|itcy|itchi|scratch*|comezon|comezones|picazon|picor|pica|pican|picando|picaba|demange*",
	))},
	{name: SignBlisters, cues: join(a(
		"blister*|blistr*|ampolla*|ampoya*|ulcer*|llaga*|sores",
		"open ... sore|sores|wound|wounds",
		"herida|heridas ... abierta|abiertas",
	), m(
		"raw",
	))},
	{name: SignSwelling, cues: join(m(
		"swell|swelling|swelled|swells|swollen|swolen|sweling|swolled|swolle|swallen|swolllen|swole|puffy|puffiness|puffed|inflamed|inflammation|inflamation|inflammed|inflamed|edema|oedema|hinchazon|hinchado|hinchada|hinchados|hinchadas|inchada|inchado|inchazon|inchadas|inchados|inflamada|inflamado|inflamadas|inflamados|inflamacion|hinchandose|hinchando|hincho|hinchar|enflure|gonfle|gonflee|gonflement",
	), a(
		"swollen|swolen|swole|puffy|hinchad*|inchad*|swelling|swelled|swell ... shut|closed|cerrado|cerrados|cerrada|cerradas",
		"cant|cannot|unable|barely|hardly ... open ... eye|eyes|eyelid|eyelids",
		"face|eye|eyes|eyelid|eyelids|cheek|cheeks|forehead|jaw|chin|skin ... blew|blown|=blowing|=ballooned|=ballooning|balloon",
		"stung ... bee|bees|wasp|wasps",
		"hard|firm|hardened|dura|duro and|y red|swollen|hot|roja|rojo|hinchada|hinchado|caliente",
		"red|swollen|hot|roja|rojo|hinchada|hinchado|caliente and|y hard|firm|dura|duro",
		"bee|wasp ... sting|stung",
		"no puedo|puede ... abrir ... ojo|ojos",
	))},
	{name: SignBleeding, cues: a(
		"nosebleed|nosebleeds|bleed|bleeds|bleeding|bled|bledding|bleding|bleedin|bleeeding|blead|bleading|bleds|blood|bloody|bloodie|sangra|sangran|sangrado|sangrando|sangre|sangrar|sangraba|sangro|sangrante|saigne !thinner|thinners|pressure|test|tests|work|sugar|type|donation|draw|orange|oranges|flow|circulation|count|panel",
	)},
	{name: SignFever, cues: join(a(
		"fever|fevers|feverish|fevered|fevr|feaver|fevar|fevor|fver|fevre|feber|febrile|chills|chils|chilly|shivering|shivers|shivery|rigors|fiebre|fiebres|febril|fievre|calentura|escalofrio*|escalosfrio*|calosfrio*|afiebrad*",
		"high|a|have|has|had|got|running|spiked|spiking|tengo|tiene|tenia|alta ... temperature|temp|temperatura",
	), m(
		"my|mi|her|his ... temperature|temp|temperatura",
	), a(
		"temperature|temperatura ... alta|high|up",
		"temp|temperature|temperatura|fever|fiebre ... 100|101|102|103|104|105|38|39|40|38.*|39.*|37.8|37.9",
		"100|101|102|103|104|105|38|39|40|38.*|39.* degrees|deg|grados|f|c|fahrenheit|celsius",
	))},
	{name: SignDiscoloration, cues: a(
		"discolor*|discolour*|hyperpigment*|hypopigment*|bruis*|brusing|moreton*|moratones|amoratad*|mancha|manchas|purple|purplish|morado|morada|morados|moradas|violet|blackish|blackened|grayish|greyish|dusky|darkening|darkened|necros*",
		"turn*|went|gone|going|getting|become|becoming|becomes black|blue|bluish|gray|grey|white|whitish|dark|darker|brown|brownish|pale|dusky|purple",
		"turn*|turned|turning|went ... black|blue|bluish|gray|grey|white|whitish|darker|brown|brownish|dusky|purple",
		"darker|new|black|gray|grey|white|whitish|brown|brownish|blue|bluish ... spot|spots|patch|patches|mark|marks|area|areas|blotch*|splotch*",
		"dark patch|patches",
		"darker|darkening|darkened|oscureciendo|oscurecio|oscurecido",
		"looks|look|looking|appears|se grey|gray|greyish|grayish|purple|blue|bluish|black|dusky|blackish|gris|morada|morado|negra|negro",
		"puso|pone|poniendo|puesto|volvio|volviendo|ve ... negr*|morad*|gris*|blanc*|oscur*|azul*",
	)},
	{name: SignInfection, cues: a(
		"infect*|infected|infection|infecion|infecton|infeccion*|infectad*|infecc*|abscess*|absceso*|cellulitis|staph|impetigo|herpes|boil|boils|fuegos",
		"cold|fever ... sore|sores|blister|blisters",
	)},
	{name: SignEmergencyCare, cues: a(
		"the|to|in|at|an er",
		"emergency|emergencies room|department|care|dept",
		"urgent care",
		"911",
		"ambulance|ambulancia|paramedics|paramedicos",
		"went|go|going|headed|heading|in|im|admitted|taken|took ... hospital|emergency",
		"voy|fui|estoy|ir|llevaron|llevan|vamos ... urgencias|urgencia|hospital|emergencias|emergencia",
	)},
	{name: SignAllergy, cues: join(a(
		"allerg*|alerg*|allegic|alergic|alergico|alergica|alergia|allergique",
	), m(
		"reaction|reactions|reacting|reacted|reaccion|reacciones|reaccionando|reaccionado|reagi*",
	))},
}

// noTypo lists everyday words one typo away from a sign's word: they are
// never read as a misspelt sign ("turning red" is not "burning").
var noTypo = set(
	"turning", "burying", "burping", "keeping", "beeping", "peeping", "sweeping", "smelling", "spelling",
	"dwelling", "shelling", "swilling", "selling", "welling", "smelled", "spelled", "breeding", "bleeping",
	"painted", "sainted", "painting", "fainter", "etching", "pitching", "hitching", "ditching", "witching",
	"bitching", "itchier", "injected", "injection", "injections", "inflection", "shallow", "swallows", "dimples",
	"simples", "streams", "marcada", "marcado", "marcadas", "costas", "colores", "marchas", "cruising", "singing",
	"stinking", "swinging", "founding", "bounding", "sounding", "rounding", "reading", "breathe", "wreathed",
	"braking", "breaking", "checking", "allergen", "reactor", "blaster", "bluster", "glister", "dolores",
	"fainted", "fluids", "bleached", "screaming", "stretching", "blusher", "infested", "inflated", "reddish",
	"heading", "dresser", "respira", "resting", "feeling", "peeling", "healing", "sealing", "dealing",
	"ceiling", "hurling", "hunting", "hurting", "tingling", "mingling", "tickling", "pickling", "sweating",
	"swearing", "wearing", "shaving", "waxing", "dryness", "greatness", "brightness", "tightness", "scarring",
	"starring", "staring", "sharing", "scaring", "fabulous", "sunburn", "sunburnt", "pimpled", "tender",
)
