package smtp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"syscall"
	"testing"

	gomail "github.com/wneessen/go-mail"

	"github.com/aftercare/aftercare/notify"
)

// TestClassify covers the errors that do not need a server to produce; the
// SMTP replies at each stage of a transaction are covered end to end by
// TestSendClassifiesReplies.
func TestClassify(t *testing.T) {
	t.Parallel()
	reply := func(code int, msg string) error { return &textproto.Error{Code: code, Msg: msg} }
	dial := func(err error) error { return &opError{op: opDial, err: err} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	given := &notify.Error{Kind: notify.Permanent, Code: "x"}

	tests := []struct {
		name   string
		err    error
		kind   notify.Kind
		action notify.Action
		code   string
		reason string // substring
	}{
		{"already classified", given, notify.Permanent, "", "x", ""},
		{"wrapped classified", fmt.Errorf("send: %w", given), notify.Permanent, "", "x", ""},
		{"connection refused", dial(refused), notify.Transient, "", "", "connection refused"},
		{"dial timeout", dial(context.DeadlineExceeded), notify.Transient, "", "", "timeout"},
		{"dial cancelled", dial(errors.Join(context.Canceled, refused)), notify.Transient, "", "", "canceled"},
		{"greeting 421", dial(reply(421, "4.3.2 too busy")), notify.Transient, "", "421", "session refused: 421 4.3.2"},
		{"greeting 554", dial(reply(554, "no service")), notify.Transient, notify.ActionAlertOps, "554", ""},
		{"bad credentials", dial(fmt.Errorf("SMTP AUTH failed: %w", reply(535, "5.7.8 Authentication failed"))), notify.Transient, notify.ActionAlertOps, "535", "5.7.8 authentication credentials invalid"},
		{"auth temporarily unavailable", dial(reply(454, "4.7.0 try later")), notify.Transient, "", "454", ""},
		{"untrusted certificate", dial(x509.UnknownAuthorityError{}), notify.Transient, notify.ActionAlertOps, "", "TLS"},
		{"no common auth mechanism", dial(gomail.ErrPlainAuthNotSupported), notify.Transient, notify.ActionAlertOps, "", ""},
		{"no starttls", dial(errors.New(`STARTTLS mode set to: "TLSMandatory", but target host does not support STARTTLS`)), notify.Transient, notify.ActionAlertOps, "", ""},
		{"unknown dial failure", dial(errors.New("odd")), notify.Transient, "", "", "session setup failed"},
		{"stale connection", &gomail.SendError{Reason: gomail.ErrConnCheck}, notify.Transient, "", "", "connection lost at the connection check"},
		{"lost at RCPT", &gomail.SendError{Reason: gomail.ErrSMTPRcptTo}, notify.Transient, "", "", "connection lost at RCPT TO"},
		{"lost at DATA", &gomail.SendError{Reason: gomail.ErrSMTPData}, notify.Transient, "", "", ""},
		{"lost while writing", &gomail.SendError{Reason: gomail.ErrWriteContent}, notify.Transient, "", "", "connection lost at the message content"},
		{"lost after final dot", &gomail.SendError{Reason: gomail.ErrSMTPDataClose}, notify.Ambiguous, "", "", "after the message data"},
		{"cancelled after final dot", &opError{op: opSend, err: errors.Join(context.Canceled, &gomail.SendError{Reason: gomail.ErrSMTPDataClose})}, notify.Ambiguous, "", "", ""},
		{"no recipient", &gomail.SendError{Reason: gomail.ErrGetRcpts}, notify.Permanent, notify.ActionBadAddress, "", ""},
		{"no sender", &gomail.SendError{Reason: gomail.ErrGetSender}, notify.Permanent, notify.ActionAlertOps, "", ""},
		{"bare reply 550 5.1.1", reply(550, "5.1.1 user unknown"), notify.Permanent, notify.ActionBadAddress, "550", "5.1.1 bad destination mailbox address"},
		{"bare reply 452 4.2.2", reply(452, "4.2.2 mailbox full"), notify.Transient, "", "452", "4.2.2 mailbox full"},
		{"bare reply 552 5.2.2", reply(552, "5.2.2 mailbox full"), notify.Permanent, "", "552", ""},
		{"bare reply 554 5.7.1", reply(554, "5.7.1 spam"), notify.Permanent, notify.ActionAlertOps, "554", ""},
		{"bare reply 550", reply(550, "no"), notify.Permanent, "", "550", ""},
		{"bare reply 250", reply(250, "ok?"), notify.Transient, "", "250", "unexpected reply"},
		{"network EOF", io.ErrUnexpectedEOF, notify.Transient, "", "", "connection closed"},
		{"unknown", errors.New("something else"), notify.Ambiguous, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.err)
			if got.Kind != tt.kind || got.Action != tt.action || got.Code != tt.code || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("Classify(%v) = kind %v action %q code %q reason %q; want %v %q %q %q",
					tt.err, got.Kind, got.Action, got.Code, got.Reason, tt.kind, tt.action, tt.code, tt.reason)
			}
			if got.Err == nil && got != given {
				t.Error("underlying error lost")
			}
			if got != given && !errors.Is(got, tt.err) {
				t.Error("errors.Is(classified, original) = false")
			}
		})
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}

func TestClassifyRedactsAddresses(t *testing.T) {
	t.Parallel()
	err := &opError{op: opDial, err: fmt.Errorf("550 5.1.1 <jane.doe@example.com>: Recipient address rejected, from=care@glow.example")}
	got := Classify(err)
	for _, s := range []string{got.Error(), got.Err.Error(), got.Reason} {
		if strings.Contains(s, "jane.doe@example.com") || strings.Contains(s, "care@glow.example") {
			t.Errorf("text leaks an address: %q", s)
		}
	}
	if !strings.Contains(got.Err.Error(), "j***@example.com") {
		t.Errorf("Err = %q, want the masked address", got.Err.Error())
	}
}
