// Package replies reads what patients text back: replies that sound like a
// complication (a red flag, some of them an emergency) and must reach
// clinic staff at once, requests to stop texts in any reasonable wording,
// START and HELP.
//
// # How a reply is read
//
// Deterministic rules, no network and no model: the same text always gives
// the same Result, and Result.Explain says which sign matched which of the
// patient's own words. The text is folded (lower case, accents and
// apostrophes dropped, full-width letters and zero-width characters
// normalised) and cut into clauses at punctuation and at "but"/"pero". Each
// red-flag sign (signs.go) is a list of word patterns in English and
// Spanish (pattern.go); long words also match with one typo unless the
// patient's word is an everyday word ("never" is not "fever"). A pattern
// found in a clause is not counted when, in that clause (context.go):
//
//   - it is negated: "no fever", "I don't have any pain", "sin fiebre",
//     "ya no está hinchado" (but "won't stop bleeding", "no para de
//     sangrar" and "nothing helps the pain" are persistence, and "not sure
//     if it's infected" is a doubt, which is alerted);
//   - it is resolved: "the swelling went down", "pain free", "se quitó la
//     fiebre", "had a fever last night, but it's gone now";
//   - it is hypothetical: "what if I get a fever?", "how do I avoid
//     infection?";
//   - it is one of the mild forms the care guide calls normal healing and
//     the clause says so: "a bit swollen", "a little sore", "slightly
//     itchy", "feels warm like a sunburn", "is some swelling normal?" —
//     unless something near it says it is strong or worsening ("a bit
//     swollen but getting worse", "so itchy").
//
// When in doubt about a symptom, the rules alert: a false alarm costs a
// phone call, a missed one can cost a patient's skin.
//
// # Decisions on borderline phrases
//
//   - Any pain word counts, whatever the qualifier: "it hurts", "it hurts a
//     little", "me duele un poquito", "what can I take for the pain?".
//     Asking about painkillers alone ("can I take pain meds?") or about a
//     later session ("will it hurt next time?") does not.
//   - Soreness, tenderness, aching and stinging count unless called mild:
//     "a little sore", "slightly tender", "it stings a little" are normal
//     healing; "sore", "very sore", "it stings like crazy" are red flags.
//   - Swelling counts unless called mild or normal: "face is swollen",
//     "hinchazón", "how long will the swelling last?", "will the swelling
//     go down by Friday?" are red flags; "a little swollen, is that
//     normal?" and "the swelling went down" are not. Swollen eyes shut, lips,
//     tongue or throat always count (the last three are emergencies).
//   - Itching counts unless called mild ("a bit itchy as it heals" is
//     normal); bumps, rash, hives, welts, pimples, acne, whiteheads and breakouts
//     always count.
//   - Redness alone, however strong ("very red", "roja como tomate"), is
//     normal healing; red streaks, spreading or worsening redness, and
//     redness with heat count.
//   - Warmth counts unless called mild ("feels warm like a sunburn" is
//     normal); "hot to the touch" always counts; hot water, showers and
//     yoga are not symptoms.
//   - Tightness, dryness, flaking, peeling, roughness and "like a
//     sunburn" are never red flags (the guide calls them normal).
//   - A scab or crust counts (the guide expects flaking, not crusting).
//   - Any bleeding counts unless it has stopped.
//   - A fever counts whoever has it ("my kid has a fever, I need to
//     reschedule"): the clinic can tell, a classifier cannot.
//   - Going to the ER or urgent care, or calling 911, is a red flag.
//   - Emergencies (tell the patient to call 911 first): fainting, feeling
//     faint, dizziness or lightheadedness, trouble breathing (any "can't
//     breathe"), chest tightness, throat, lips or tongue swelling or
//     closing, trouble swallowing, anaphylaxis or an EpiPen. "Faint" as in
//     "faint pink" is not.
//
// # Opt-out, opt-in, HELP
//
// See keywords.go. A red flag wins over a stop: such a reply is Kind
// RedFlag with OptOut set, and both are honoured. Decisions: "leave me
// alone", "wrong number", "not interested", "Enough!", "how do I
// unsubscribe?" opt out; "no thanks" and "who is this?" do not; only
// START, UNSTOP, YES and SUBSCRIBE (the whole message) opt back in, in any
// language ("empezar" and "sí" do not: re-subscribing someone who did not
// mean it is the costlier mistake, and START works for everyone); "help
// me" alone is HELP.
//
// # Proof
//
// testdata/corpus.tsv holds over 1,000 labelled replies (red flags,
// emergencies, questions, thanks, opt-outs, START/HELP, both languages,
// typos, negations, SMS spelling, every example phrase of issue 9).
// TestCorpus fails on any missed red flag, emergency or opt-out, on any
// reply opted out that did not ask to, and when fewer than 95 % of the
// other replies get exactly their label; `go test -run TestCorpus -v
// ./replies` prints the figures.
package replies
