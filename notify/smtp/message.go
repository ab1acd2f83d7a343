package smtp

import (
	"bytes"
	"fmt"
	"html"
	"net/mail"
	"net/url"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
)

// MessageID returns the Message-ID of outbox message msgID sent from
// domain: "<aftercare-42@clinic.example>". It is the same on every attempt,
// so a retry after an ambiguous failure is recognisable as a duplicate.
func MessageID(msgID int64, domain string) string {
	domain = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return -1
	}, domain)
	domain = strings.Trim(domain, ".-")
	if domain == "" {
		domain = "localhost"
	}
	return fmt.Sprintf("<aftercare-%d@%s>", msgID, domain)
}

// build turns m into a go-mail message and returns it with its Message-ID.
// Errors are permanent: the same message would fail the same way again.
func (s *Sender) build(m notify.Message) (*gomail.Msg, string, error) {
	if m.Channel != "" && m.Channel != aftercare.Email {
		return nil, "", permanent(notify.ActionAlertOps, "smtp cannot send a %s message", m.Channel)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, "", permanent(notify.ActionBadAddress, "recipient address is not valid")
	}
	if name := oneLine(m.ToName); name != "" {
		to.Name = name
	}
	from := s.from
	if m.From != "" {
		if from, err = mail.ParseAddress(m.From); err != nil {
			return nil, "", permanent(notify.ActionAlertOps, "clinic sender address is not valid")
		}
	}
	if from == nil {
		return nil, "", permanent(notify.ActionAlertOps, "no sender address configured")
	}
	if m.Body == "" && m.HTMLBody == "" {
		return nil, "", permanent(notify.ActionAlertOps, "message has no body")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	var id string
	if m.ID > 0 {
		_, domain, _ := strings.Cut(from.Address, "@")
		id = MessageID(m.ID, domain)
		msg.SetMessageIDWithValue(strings.Trim(id, "<>"))
	} else {
		// Not from the outbox: a shared "<aftercare-0@…>" would make
		// receivers drop all but the first as duplicates.
		msg.SetMessageID()
		id = msg.GetMessageID()
	}
	msg.FromMailAddress(from)
	msg.ToMailAddress(to)
	if m.ReplyTo != "" {
		rt, err := mail.ParseAddress(m.ReplyTo)
		if err != nil {
			return nil, "", permanent(notify.ActionAlertOps, "clinic reply-to address is not valid")
		}
		msg.ReplyToMailAddress(rt)
	}
	msg.Subject(oneLine(m.Subject))
	// RFC 3834: keeps vacation responders from answering.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")

	text, htmlBody := m.Body, m.HTMLBody
	if m.UnsubscribeURL != "" {
		u, err := url.Parse(strings.TrimSpace(m.UnsubscribeURL))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, "", permanent(notify.ActionAlertOps, "unsubscribe URL is not a valid http(s) URL")
		}
		link := u.String()
		if u.Scheme == "https" {
			if err := msg.SetListUnsubscribeOneClick(link); err != nil {
				return nil, "", permanent(notify.ActionAlertOps, "unsubscribe URL: %v", err)
			}
		} else {
			// RFC 8058 one-click needs https; plain http (development)
			// gets List-Unsubscribe only.
			msg.SetListUnsubscribe(link)
		}
		text, htmlBody = withFooter(text, htmlBody, oneLine(m.ClinicName), link)
	}
	switch {
	case text != "" && htmlBody != "":
		msg.SetBodyString(gomail.TypeTextPlain, text)
		msg.AddAlternativeString(gomail.TypeTextHTML, htmlBody)
	case text != "":
		msg.SetBodyString(gomail.TypeTextPlain, text)
	default:
		msg.SetBodyString(gomail.TypeTextHTML, htmlBody)
	}

	for _, a := range m.Attachments {
		name := oneLine(a.Name)
		if name == "" {
			name = "attachment"
		}
		ct := oneLine(a.ContentType)
		if ct == "" && strings.HasSuffix(strings.ToLower(name), ".ics") {
			ct = notify.ICSContentType
		}
		var opts []gomail.FileOption
		if ct != "" {
			opts = append(opts, gomail.WithFileContentType(gomail.ContentType(ct)))
		}
		if err := msg.AttachReader(name, bytes.NewReader(a.Data), opts...); err != nil {
			return nil, "", permanent(notify.ActionAlertOps, "attach %s: %v", name, err)
		}
	}
	return msg, id, nil
}

// withFooter appends the unsubscribe line to the text part and a matching
// paragraph, escaped, to the HTML part (before </body> if there is one).
func withFooter(text, htmlBody, clinic, link string) (string, string) {
	why := "You receive these emails after your treatment."
	if clinic != "" {
		why = "You receive these emails after your treatment at " + clinic + "."
	}
	if text != "" {
		text = strings.TrimRight(text, "\r\n") + "\n\n-- \n" + why + "\nUnsubscribe: " + link + "\n"
	}
	if htmlBody != "" {
		p := `<p style="font-size:12px;color:#666666">` + html.EscapeString(why) +
			` <a href="` + html.EscapeString(link) + `">Unsubscribe</a></p>`
		if i := lastIndexFold(htmlBody, "</body>"); i >= 0 {
			htmlBody = htmlBody[:i] + p + "\n" + htmlBody[i:]
		} else {
			htmlBody += "\n" + p
		}
	}
	return text, htmlBody
}

// oneLine drops line breaks and other control characters, so a value cannot
// start a new header.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s))
}

// lastIndexFold is strings.LastIndex ignoring ASCII case in sub, with byte
// offsets valid in s (unlike searching strings.ToLower(s), which can change
// lengths).
func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
