package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	gomail "github.com/wneessen/go-mail"
	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/aftercare/aftercare/notify"
)

// What was being done when an error happened, for errors that go-mail does
// not wrap in a *gomail.SendError.
const (
	opDial = "dial" // connect, greeting, EHLO, STARTTLS, AUTH: nothing of a message sent yet
	opSend = "send" // the mail transaction; the *gomail.SendError inside says which command
)

// opError records what was being done when err happened. Its text masks
// email addresses, which go-mail and servers put into error messages.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + redact(e.err.Error()) }
func (e *opError) Unwrap() error { return e.err }

var emailPattern = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[A-Za-z0-9.\-\[\]:]+`)

// redact masks every email address in s.
func redact(s string) string { return emailPattern.ReplaceAllStringFunc(s, notify.Mask) }

// stage is the SMTP step a reply answered.
type stage int

const (
	stageUnknown   stage = iota
	stageDial            // before any message: greeting, EHLO, STARTTLS, AUTH
	stageConn            // NOOP check of a connection before the transaction
	stageMail            // MAIL FROM
	stageRcpt            // RCPT TO
	stageData            // the DATA command, before any content
	stageContent         // writing the content
	stageEndOfData       // the reply to the final "."
	stageAfterData       // RSET after the message was accepted
)

var stageText = map[stage]string{
	stageUnknown:   "SMTP error",
	stageDial:      "session refused",
	stageConn:      "connection lost before sending",
	stageMail:      "sender rejected",
	stageRcpt:      "recipient rejected",
	stageData:      "DATA rejected",
	stageContent:   "connection lost while sending the message",
	stageEndOfData: "message rejected",
	stageAfterData: "RSET failed after the message was accepted",
}

var stageCommand = map[stage]string{
	stageConn:    "the connection check",
	stageMail:    "MAIL FROM",
	stageRcpt:    "RCPT TO",
	stageData:    "DATA",
	stageContent: "the message content",
}

var sendStage = map[gomail.SendErrReason]stage{
	gomail.ErrConnCheck:     stageConn,
	gomail.ErrSMTPMailFrom:  stageMail,
	gomail.ErrSMTPRcptTo:    stageRcpt,
	gomail.ErrSMTPData:      stageData,
	gomail.ErrWriteContent:  stageContent,
	gomail.ErrSMTPDataClose: stageEndOfData,
	gomail.ErrSMTPReset:     stageAfterData,
}

// Classify turns an error from Send or Check into a *notify.Error saying
// whether to retry. It is the one place that knows what SMTP replies mean:
//
//   - Nothing of the message was sent (dial refused or timed out, greeting,
//     EHLO, STARTTLS, AUTH, a stale connection, the connection lost before
//     the end of the data): Transient. SMTP commits a message only with
//     the reply to the final ".", so these are safe to retry. Failures
//     that are our configuration rather than the message (a 5xx reply to
//     the session or to MAIL FROM, such as 535 5.7.8 bad credentials or
//     530 authentication required, TLS and certificate errors, no common
//     AUTH mechanism) are Transient with ActionAlertOps: messages wait,
//     within their stale window, for ops to fix the relay settings.
//   - The connection lost after the final "." but before the reply:
//     Ambiguous. The server may have queued the message; a retry carries
//     the same Message-ID, so a duplicate is recognisable.
//   - 4xx replies (451 greylisting, 452 4.2.2 mailbox full, 421 closing):
//     Transient.
//   - 5xx replies about the recipient: 5.1.1, 5.1.2, 5.1.3, 5.1.6,
//     5.1.10 and 5.2.1, or, without an enhanced code, 550, 551 and 553 to
//     RCPT TO: Permanent with ActionBadAddress. 5.2.2 (mailbox full) is
//     Permanent without it (RFC 3463: the 4.2.2 form is the transient
//     one). A bare 552 to RCPT TO is Transient (RFC 5321 4.5.3.1.10).
//   - 5xx replies about the content or policy (5.7.x such as a spam
//     rejection, 5.3.4 and 5.2.3 too big, 5.5.x protocol errors, 554 to the
//     data): Permanent with ActionAlertOps.
//   - Any other 5xx: Permanent.
//   - A message we cannot build (no valid sender or recipient): Permanent.
//
// The Code is the SMTP reply code ("451"), the Reason names the step, the
// code and the enhanced status code ("recipient rejected: 550 5.1.1 bad
// destination mailbox address") and never an address. Unknown errors are
// Ambiguous, as notify.Classify has it.
func Classify(err error) *notify.Error {
	if err == nil {
		return nil
	}
	var ne *notify.Error
	if errors.As(err, &ne) {
		return ne
	}
	safe := err
	var oe *opError
	if !errors.As(err, &oe) {
		safe = &opError{op: "smtp", err: err}
	}

	var se *gomail.SendError
	if errors.As(err, &se) {
		return classifySend(se, safe)
	}
	dial := oe != nil && oe.op == opDial
	if code, esc, ok := replyOf(err); ok {
		st := stageUnknown
		if dial {
			st = stageDial
		}
		return classifyReply(st, code, esc, safe)
	}
	if dial {
		return classifyDial(err, safe)
	}
	if isNetwork(err) {
		return &notify.Error{Kind: notify.Transient, Reason: "connection failed: " + netReason(err), Err: safe}
	}
	return &notify.Error{Kind: notify.Ambiguous, Reason: "unexpected SMTP failure", Err: safe}
}

func classifySend(se *gomail.SendError, safe error) *notify.Error {
	switch se.Reason {
	case gomail.ErrGetSender, gomail.ErrNoUnencoded:
		return &notify.Error{Kind: notify.Permanent, Reason: "message cannot be sent: " + se.Reason.String(), Action: notify.ActionAlertOps, Err: safe}
	case gomail.ErrGetRcpts:
		return &notify.Error{Kind: notify.Permanent, Reason: "no valid recipient address", Action: notify.ActionBadAddress, Err: safe}
	}
	st, ok := sendStage[se.Reason]
	if !ok {
		return &notify.Error{Kind: notify.Ambiguous, Reason: "SMTP failure: " + se.Reason.String(), Err: safe}
	}
	if code := se.ErrorCode(); code != 0 {
		return classifyReply(st, code, se.EnhancedStatusCode(), safe)
	}
	// No reply code: the connection failed (or go-mail gave up) at st.
	switch st {
	case stageEndOfData, stageAfterData:
		// The final "." may have reached the server, which may have
		// queued the message before the connection went. (A failure while
		// writing the content is not ambiguous: go-mail writes the final
		// "." only after the content went out whole.)
		return &notify.Error{Kind: notify.Ambiguous, Reason: "connection lost after the message data was sent", Err: safe}
	}
	return &notify.Error{Kind: notify.Transient, Reason: "connection lost at " + stageCommand[st], Err: safe}
}

// classifyReply classifies an SMTP reply code with its enhanced status code
// ("5.1.1", or "") given to the command at st.
func classifyReply(st stage, code int, esc string, safe error) *notify.Error {
	e := &notify.Error{Code: strconv.Itoa(code), Err: safe}
	class, subject, detail := parseEnhanced(esc)
	reason := func(desc string) string {
		r := stageText[st] + ": " + e.Code
		if esc != "" {
			r += " " + esc
		}
		if desc != "" {
			r += " " + desc
		}
		return r
	}
	generic := esc == "" || (subject == 0 && detail == 0)
	desc := describe(class, subject, detail)

	switch {
	case code >= 400 && code < 500:
		e.Kind = notify.Transient
	case code >= 500 && code < 600:
		switch {
		case st == stageDial || st == stageMail:
			// The relay refuses us, not this message: credentials, TLS,
			// an unverified sender, relaying not allowed.
			e.Kind, e.Action = notify.Transient, notify.ActionAlertOps
		case subject == 1 && (detail == 1 || detail == 2 || detail == 3 || detail == 6 || detail == 10),
			subject == 2 && detail == 1:
			e.Kind, e.Action = notify.Permanent, notify.ActionBadAddress
		case subject == 1 && (detail == 7 || detail == 8):
			e.Kind, e.Action = notify.Permanent, notify.ActionAlertOps
		case subject == 2 && detail == 2:
			e.Kind = notify.Permanent
		case subject == 2 && detail == 3, subject == 3 && detail == 4, subject == 5, subject == 7:
			e.Kind, e.Action = notify.Permanent, notify.ActionAlertOps
		case generic && st == stageRcpt && (code == 550 || code == 551 || code == 553):
			e.Kind, e.Action = notify.Permanent, notify.ActionBadAddress
			desc = "mailbox unavailable"
		case generic && st == stageRcpt && code == 552:
			e.Kind = notify.Transient // RFC 5321 4.5.3.1.10: treat as 452
		case generic && st == stageEndOfData && code == 554:
			e.Kind, e.Action = notify.Permanent, notify.ActionAlertOps
			desc = "transaction failed"
		default:
			e.Kind = notify.Permanent
		}
	default:
		// 2xx or 3xx where another reply was expected.
		e.Kind = notify.Transient
		if st == stageEndOfData || st == stageAfterData {
			e.Kind = notify.Ambiguous
		}
		desc = "unexpected reply"
	}
	e.Reason = reason(desc)
	return e
}

// classifyDial classifies a failure to set up a session that carries no
// SMTP reply code.
func classifyDial(err, safe error) *notify.Error {
	e := &notify.Error{Kind: notify.Transient, Err: safe}
	switch {
	case isTLS(err):
		e.Action, e.Reason = notify.ActionAlertOps, "TLS handshake failed"
	case isAuthConfig(err):
		e.Action, e.Reason = notify.ActionAlertOps, "relay does not support the configured TLS or AUTH"
	case isNetwork(err):
		e.Reason = "connection failed: " + netReason(err)
	default:
		e.Reason = "session setup failed"
	}
	return e
}

// replyOf returns the SMTP reply code and enhanced status code in err's
// chain, if any.
func replyOf(err error) (code int, esc string, ok bool) {
	var tp *textproto.Error
	if !errors.As(err, &tp) {
		return 0, "", false
	}
	return tp.Code, enhancedPattern.FindString(tp.Msg), true
}

var enhancedPattern = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}\b`)

func parseEnhanced(esc string) (class, subject, detail int) {
	parts := strings.Split(esc, ".")
	if len(parts) != 3 {
		return 0, 0, 0
	}
	class, _ = strconv.Atoi(parts[0])
	subject, _ = strconv.Atoi(parts[1])
	detail, _ = strconv.Atoi(parts[2])
	return class, subject, detail
}

// describe names an enhanced status code after RFC 3463.
func describe(class, subject, detail int) string {
	if class == 0 {
		return ""
	}
	switch [2]int{subject, detail} {
	case [2]int{1, 1}:
		return "bad destination mailbox address"
	case [2]int{1, 2}:
		return "bad destination system address"
	case [2]int{1, 3}:
		return "bad destination mailbox address syntax"
	case [2]int{1, 6}:
		return "destination mailbox has moved"
	case [2]int{1, 7}:
		return "bad sender's mailbox address syntax"
	case [2]int{1, 8}:
		return "bad sender's system address"
	case [2]int{1, 10}:
		return "recipient address has null MX"
	case [2]int{2, 1}:
		return "mailbox disabled"
	case [2]int{2, 2}:
		return "mailbox full"
	case [2]int{2, 3}:
		return "message length exceeds administrative limit"
	case [2]int{3, 4}:
		return "message too big for system"
	case [2]int{4, 7}:
		return "delivery time expired"
	case [2]int{7, 1}:
		return "delivery not authorized, message refused"
	case [2]int{7, 8}:
		return "authentication credentials invalid"
	}
	return map[int]string{
		0: "other status",
		1: "addressing status",
		2: "mailbox status",
		3: "mail system status",
		4: "network and routing status",
		5: "mail delivery protocol status",
		6: "message content or media status",
		7: "security or policy status",
	}[subject]
}

func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, gomail.ErrNoActiveConnection) || errors.Is(err, errClosedByContext)
}

func netReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return "network error"
}

func isTLS(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		rh  tls.RecordHeaderError
		ae  tls.AlertError
		ech *tls.ECHRejectionError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) ||
		errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &ech)
}

// isAuthConfig reports errors saying the relay and our settings do not
// match: no STARTTLS, no AUTH or no common mechanism, AUTH refused locally
// on a plain connection.
func isAuthConfig(err error) bool {
	for _, target := range []error{
		gomail.ErrNoSupportedAuthDiscovered, gomail.ErrPlainAuthNotSupported, gomail.ErrLoginAuthNotSupported,
		gmsmtp.ErrUnencrypted, gmsmtp.ErrWrongHostname,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "does not support STARTTLS") || strings.Contains(msg, "does not support SMTP AUTH")
}

// permanent returns the error for a message that can never be sent as it
// is.
func permanent(action notify.Action, format string, args ...any) *notify.Error {
	return &notify.Error{Kind: notify.Permanent, Action: action, Reason: fmt.Sprintf(format, args...)}
}
