package aftercare

import "fmt"

// Booking systems (issue 14 §3): a clinic's booking system tells aftercare
// about its appointments through a signed webhook.

// Booking events a booking system sends.
const (
	// BookingCompleted: the appointment took place; the patient is
	// enrolled for its aftercare.
	BookingCompleted = "appointment.completed"
	// BookingBooked: the patient booked a future appointment; their
	// pending "book your next session" reminders are cancelled.
	BookingBooked = "appointment.booked"
	// BookingCancelled: the appointment was cancelled; the reminders its
	// booking cancelled come back if they are still useful.
	BookingCancelled = "appointment.cancelled"
)

// BookingEvents lists the events in the order documentation gives them.
var BookingEvents = []string{BookingCompleted, BookingBooked, BookingCancelled}

// ActorBookingSystem is a clinic's booking system, acting through the
// signed booking webhook (ID is the clinic's id).
const ActorBookingSystem ActorKind = "booking_system"

// BookingActor is the audit trail's actor for clinic's booking system.
func BookingActor(clinicID int64, ip string) Actor {
	return Actor{Kind: ActorBookingSystem, ID: clinicID, Label: fmt.Sprintf("booking system of clinic %d", clinicID), IP: ip}
}

// ConsentBookingSystem is the method of consent a clinic's booking system
// reported (with the wording version it showed the patient).
const ConsentBookingSystem ConsentMethod = "booking_system"

// Audit actions of booking systems.
const (
	// AuditBookingSecret records a booking webhook secret made or rotated
	// (never the secret).
	AuditBookingSecret AuditAction = "booking_secret"
	// AuditBookingEvent records a booked or cancelled appointment acting
	// on a patient's reminders.
	AuditBookingEvent AuditAction = "booking_event"
)
