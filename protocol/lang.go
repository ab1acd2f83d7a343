package protocol

import (
	_ "embed"
	"fmt"
	"time"
)

//go:embed default.es.yaml
var defaultESYAML []byte

// Dates and the words of template helpers in a protocol's language. English
// is the default; a language without a table here falls back to it.

// esWeekdays and esMonths are Spanish day and month names (lower-case, as
// Spanish writes them). The short forms are for texts: "sab" rather than
// "sáb", because one á turns a whole text into UCS-2 (70 characters a
// segment instead of 160); every other short form is GSM-7 as written.
var (
	esWeekdays      = [7]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}
	esWeekdaysShort = [7]string{"dom", "lun", "mar", "mié", "jue", "vie", "sab"}
	esMonths        = [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}
	esMonthsShort   = [12]string{"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"}
)

// longDate is a date as TreatedDate shows it: "Tuesday, November 24",
// "martes 24 de noviembre".
func longDate(lang string, d civilDate) string {
	t := d.time()
	if lang == "es" {
		return fmt.Sprintf("%s %d de %s", esWeekdays[t.Weekday()], d.D, esMonths[d.M-1])
	}
	return t.Format("Monday, January 2")
}

// shortDate is a date as TreatedDay and DateOn show it: "Tue 24 Nov",
// "mar 24 nov".
func shortDate(lang string, d civilDate) string {
	t := d.time()
	if lang == "es" {
		return fmt.Sprintf("%s %d %s", esWeekdaysShort[t.Weekday()], t.Day(), esMonthsShort[t.Month()-1])
	}
	return t.Format(dayFormat)
}

// time is the date at noon UTC (normalised: day 32 of a month is the 1st
// of the next).
func (d civilDate) time() time.Time { return time.Date(d.Y, d.M, d.D, 12, 0, 0, 0, time.UTC) }

// setLanguage makes the data speak lang: the treatment date and the
// helpers (DateOn, HowToBook) in that language. Protocols set it to their
// own language before rendering.
func (d *Data) setLanguage(lang string) {
	d.lang = lang
	if d.treatedOn.Y != 0 {
		d.TreatedDate = longDate(lang, d.treatedOn)
		d.TreatedDay = shortDate(lang, d.treatedOn)
	}
}

// howToBook finishes a sentence on how to book, in lang. The Spanish stays
// GSM-7 ("llama al", not "llámanos al"; "reserva en", not "reserva en
// línea en") because it goes into texts.
func howToBook(lang, url, phone string) string {
	switch {
	case lang == "es" && url != "":
		return "reserva en " + url
	case lang == "es":
		return "llama al " + phone
	case url != "":
		return "book online at " + url
	}
	return "call us at " + phone
}
