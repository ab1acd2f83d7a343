package store

// The SQL of booking systems: a clinic's webhook secrets and the booking
// events it sent (issue 14 §3).

const (
	// A clinic's secrets that verify now (clinic, now): the current one
	// first.
	qBookingSecrets = `SELECT secret FROM booking_secrets WHERE clinic_id = ? AND (expires_at = 0 OR expires_at > ?)
		ORDER BY expires_at = 0 DESC, id DESC`
	// A clinic's secrets without the secret (clinic, now), current first.
	qBookingSecretHeads = `SELECT id, created_at, expires_at FROM booking_secrets
		WHERE clinic_id = ? AND (expires_at = 0 OR expires_at > ?) ORDER BY expires_at = 0 DESC, id DESC`
	// Forgets a clinic's earlier secrets (clinic): rotating keeps only the
	// one it replaces.
	qDeleteOldBookingSecrets = `DELETE FROM booking_secrets WHERE clinic_id = ? AND expires_at <> 0`
	// The current secret stops at expires_at (expires_at, clinic).
	qExpireBookingSecret = `UPDATE booking_secrets SET expires_at = ? WHERE clinic_id = ? AND expires_at = 0`
	// A new current secret (clinic, secret, created_at).
	qInsertBookingSecret = `INSERT INTO booking_secrets(clinic_id, secret, created_at) VALUES (?, ?, ?) RETURNING id`

	bookingEventCols = `id, clinic_id, appointment_id, event, received_at, occurred_at, starts_at, coalesce(patient_id, 0),
		coalesce(enrollment_id, 0), outcome, detail, messages`
	// One event of an appointment (clinic, appointment, event).
	qBookingEvent = `SELECT ` + bookingEventCols + ` FROM booking_events WHERE clinic_id = ? AND appointment_id = ? AND event = ?`
	// A new event (clinic, appointment, event, received_at, occurred_at,
	// starts_at, patient, enrollment, outcome, detail, messages); no row
	// when the appointment's event is already there.
	qInsertBookingEvent = `INSERT INTO booking_events(clinic_id, appointment_id, event, received_at, occurred_at, starts_at,
		patient_id, enrollment_id, outcome, detail, messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(clinic_id, appointment_id, event) DO NOTHING RETURNING id`
	// Booked appointments of a patient at a clinic still ahead and not
	// cancelled, other than one (clinic, patient, appointment, now).
	qOtherBookings = `SELECT b.appointment_id FROM booking_events b
		WHERE b.clinic_id = ? AND b.patient_id = ? AND b.event = 'appointment.booked' AND b.appointment_id <> ? AND b.starts_at > ?
		AND NOT EXISTS (SELECT 1 FROM booking_events c WHERE c.clinic_id = b.clinic_id
			AND c.appointment_id = b.appointment_id AND c.event = 'appointment.cancelled')
		ORDER BY b.starts_at, b.id`
	// Counts of a clinic's events by kind that occurred in [from, to).
	qBookingEventCounts = `SELECT event, count(*) FROM booking_events WHERE clinic_id = ? AND occurred_at >= ? AND occurred_at < ?
		GROUP BY event ORDER BY event`

	// A clinic's patients with a phone (clinic, phone), and with an email
	// (clinic, email), not erased.
	qBookingPatientsByPhone = `SELECT id FROM patients WHERE clinic_id = ? AND phone <> '' AND phone = ? AND erased_at IS NULL ORDER BY id`
	qBookingPatientsByEmail = `SELECT id FROM patients WHERE clinic_id = ? AND email <> '' AND lower(email) = lower(?)
		AND erased_at IS NULL ORDER BY id LIMIT 2`
	// A patient's pending messages of some steps (patient, clinic, then
	// the step keys, as many placeholders as %s is given).
	qPendingBookingReminders = `SELECT id FROM messages WHERE patient_id = ? AND clinic_id = ? AND status = 'scheduled'
		AND step IN (%s) ORDER BY send_at, id`
	// A patient's messages of some steps a booking cancelled (patient,
	// clinic, then the step keys as in qPendingBookingReminders), with what decides whether they
	// are still useful: their times, whether their enrollment was
	// cancelled, and whether a later session of the patient was enrolled
	// since (the series moved on).
	qBookedReminders = `SELECT m.id, m.send_at, m.stale_at, CASE WHEN e.cancelled_at IS NULL THEN 0 ELSE 1 END,
		CASE WHEN EXISTS (SELECT 1 FROM enrollments l WHERE l.patient_id = e.patient_id AND l.id <> e.id
			AND l.session_number > e.session_number AND l.cancelled_at IS NULL) THEN 1 ELSE 0 END
		FROM messages m JOIN enrollments e ON e.id = m.enrollment_id
		WHERE m.patient_id = ? AND m.clinic_id = ? AND m.status = 'cancelled' AND m.end_cause = 'booked'
		AND m.step IN (%s) ORDER BY m.send_at, m.id`
)
