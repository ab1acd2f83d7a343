package aftercare

import (
	"context"
	"time"
)

// ActorKind says who did something recorded in the audit trail.
type ActorKind string

// Actor kinds.
const (
	ActorStaff   ActorKind = "staff"   // a console user (ID is the user's id)
	ActorAPIKey  ActorKind = "api_key" // an API key (ID is the key's id, Label its label or prefix)
	ActorDaemon  ActorKind = "daemon"  // aftercare itself (scheduler, housekeeping, webhooks)
	ActorPatient ActorKind = "patient" // a patient through a signed link or a reply
	ActorCLI     ActorKind = "cli"     // an operator at the command line (Label is the OS user)
)

// Actor is who did something: kind, id and label, and the client IP when
// it came over HTTP.
type Actor struct {
	Kind  ActorKind `json:"kind"`
	ID    int64     `json:"id,omitempty"`
	Label string    `json:"label,omitempty"`
	IP    string    `json:"ip,omitempty"`
}

// AuditAction names what an audit row records.
type AuditAction string

// Audit actions. Reads are recorded right after they succeed; changes in
// the same transaction as the change.
const (
	AuditEnroll         AuditAction = "enroll"
	AuditCancel         AuditAction = "cancel"
	AuditResend         AuditAction = "resend"
	AuditViewPatient    AuditAction = "view_patient"
	AuditViewEnrollment AuditAction = "view_enrollment"
	AuditSearch         AuditAction = "search"
	AuditExport         AuditAction = "export"
	AuditErase          AuditAction = "erase"
	AuditSettings       AuditAction = "settings_change"
	AuditSignIn         AuditAction = "sign_in"
	AuditSignInFailed   AuditAction = "sign_in_failed"
	AuditSignOut        AuditAction = "sign_out"
	AuditKeyCreated     AuditAction = "key_created"
	AuditKeyRevoked     AuditAction = "key_revoked"
	AuditUserAdded      AuditAction = "user_added"
	AuditUserDisabled   AuditAction = "user_disabled"
	AuditUserChanged    AuditAction = "user_changed"
	AuditPasswordReset  AuditAction = "password_reset"
	AuditConcern        AuditAction = "concern"
	AuditStaffReply     AuditAction = "staff_reply"
	AuditOptOut         AuditAction = "opt_out"
	AuditOptIn          AuditAction = "opt_in"
)

// AuditEntry is one row of the append-only audit trail.
type AuditEntry struct {
	ID           int64       `json:"id"`
	ClinicID     int64       `json:"clinic_id,omitempty"`
	At           time.Time   `json:"at"`
	Actor        Actor       `json:"actor"`
	Action       AuditAction `json:"action"`
	PatientID    int64       `json:"patient_id,omitempty"`
	EnrollmentID int64       `json:"enrollment_id,omitempty"`
	// Detail says more in words (never a phone, an email or a message
	// body: the audit trail outlives erasure).
	Detail string `json:"detail,omitempty"`
}

type actorKey struct{}

// WithActor returns a context that carries who is acting, so the store can
// write audit rows in the same transaction as the change.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor a context carries, or the daemon itself.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: ActorDaemon}
}

// More audit actions (issue 12).
const (
	// AuditRetention records the retention purge of message bodies, reply
	// texts and old audit rows (by the daemon).
	AuditRetention AuditAction = "retention_purge"
	// AuditReplan records an enrollment's pending messages re-planned
	// with the clinic's current protocol (issue 13).
	AuditReplan AuditAction = "replan"
)

// ConsentErasedOptOut is the method of a revocation carried over from an
// erased patient's opt-out: the same address, enrolled again, stays opted
// out until the patient consents anew (START).
const ConsentErasedOptOut ConsentMethod = "erased_opt_out"

// Audit actions of the patient's page (issue 14).
const (
	// AuditPageView records a patient opening their aftercare page (the
	// actor is the patient).
	AuditPageView AuditAction = "page_view"
	// AuditPageConcern records a concern sent from the page.
	AuditPageConcern AuditAction = "page_concern"
	// AuditLinkRevoked records staff revoking a patient's page link.
	AuditLinkRevoked AuditAction = "link_revoked"
)
