package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// Parsed is a received message taken apart for assertions.
type Parsed struct {
	Header  mail.Header // top-level headers, raw (use Get for decoded values)
	Subject string      // decoded
	Text    string      // the first text/plain part that is not an attachment, decoded
	HTML    string      // the first text/html part that is not an attachment, decoded
	// Attachments are the parts with a filename or an attachment
	// disposition, decoded.
	Attachments []Attachment
	// Structure lists the content types of all parts, depth first, e.g.
	// ["multipart/mixed", "multipart/alternative", "text/plain",
	// "text/html", "text/calendar"].
	Structure []string
}

// Attachment is one attached file of a Parsed message.
type Attachment struct {
	Filename    string
	ContentType string // the full Content-Type header value
	Header      textproto.MIMEHeader
	Data        []byte
}

// Get returns the named header with RFC 2047 encoded words decoded.
func (p *Parsed) Get(key string) string {
	v := p.Header.Get(key)
	if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// Parse takes the raw message apart with net/mail and mime/multipart.
func (r Received) Parse() (*Parsed, error) { return Parse(r.Data) }

// Parse takes a raw RFC 5322 message apart with net/mail and
// mime/multipart, decoding quoted-printable and base64 bodies.
func Parse(raw []byte) (*Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	p := &Parsed{Header: msg.Header}
	p.Subject = p.Get("Subject")
	if err := p.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Parsed) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > 10 {
		return fmt.Errorf("parts nested too deeply")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	p.Structure = append(p.Structure, mediaType)
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("next part of %s: %w", mediaType, err)
			}
			if err := p.walk(part.Header, part, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("decode %s: %w", mediaType, err)
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	if disposition == "attachment" || filename != "" {
		if d, err := new(mime.WordDecoder).DecodeHeader(filename); err == nil {
			filename = d
		}
		p.Attachments = append(p.Attachments, Attachment{Filename: filename, ContentType: ct, Header: h, Data: data})
		return nil
	}
	switch {
	case mediaType == "text/plain" && p.Text == "":
		p.Text = string(data)
	case mediaType == "text/html" && p.HTML == "":
		p.HTML = string(data)
	}
	return nil
}

func decode(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	case "base64":
		raw, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		clean := strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(raw))
		return base64.StdEncoding.DecodeString(clean)
	default:
		return io.ReadAll(r)
	}
}
