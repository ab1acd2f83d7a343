package store

// All SQL of the store lives here, so it can be read in one place.

import "strings"

// dialect fills in a statement's driver-specific parts: {{ids}} (the
// driver's IDList) and {{skip_locked}} (its SkipLocked).
func dialect(d Driver, q string) string {
	return strings.NewReplacer("{{ids}}", d.IDList(), "{{skip_locked}}", d.SkipLocked()).Replace(q)
}

const (
	qInsertEvent = `INSERT INTO events(message_id, at, from_status, to_status, detail) VALUES (?, ?, ?, ?, ?)`

	// Clinics and keys.
	qInsertClinic = `INSERT INTO clinics(name, phone, timezone, booking_url, alert_email, on_call_phone,
		sms_from, messaging_service_sid, email_from, reply_to, after_hours_phone, created_at,
		default_language, quiet_hours, daily_text_cap, weekly_text_cap, treatments)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qUpdateClinic = `UPDATE clinics SET name = ?, phone = ?, timezone = ?, booking_url = ?, alert_email = ?,
		on_call_phone = ?, sms_from = ?, messaging_service_sid = ?, email_from = ?, reply_to = ?, after_hours_phone = ?,
		default_language = ?, quiet_hours = ?, daily_text_cap = ?, weekly_text_cap = ?, treatments = ?
		WHERE id = ?`
	// clinicCols are what scanClinic reads (clinicRow.dest).
	clinicCols = `id, name, phone, timezone, booking_url, alert_email, on_call_phone, sms_from, messaging_service_sid,
		email_from, reply_to, created_at, after_hours_phone, default_language, quiet_hours, daily_text_cap,
		weekly_text_cap, treatments`
	qSelectClinic  = `SELECT ` + clinicCols + ` FROM clinics WHERE id = ?`
	qSelectClinics = `SELECT ` + clinicCols + ` FROM clinics ORDER BY id`
	qInsertAPIKey  = `INSERT INTO api_keys(clinic_id, key_hash, prefix, created_at, label) VALUES (?, ?, ?, ?, ?)`
	qClinicByKey   = `SELECT ` + qualifiedClinicCols + `, k.id, k.label, coalesce(k.last_used_at, 0)
		FROM api_keys k JOIN clinics c ON c.id = k.clinic_id
		WHERE k.key_hash = ? AND k.revoked_at IS NULL`
	// qualifiedClinicCols is clinicCols of a clinic joined as "c".
	qualifiedClinicCols = `c.id, c.name, c.phone, c.timezone, c.booking_url, c.alert_email, c.on_call_phone, c.sms_from,
		c.messaging_service_sid, c.email_from, c.reply_to, c.created_at, c.after_hours_phone, c.default_language,
		c.quiet_hours, c.daily_text_cap, c.weekly_text_cap, c.treatments`

	// A clinic's own protocols (clinic_protocols): every uploaded version,
	// at most one active per treatment and language.
	clinicProtocolCols = `id, clinic_id, treatment, language, version, source, sha256, coalesce(uploaded_by, 0), created_at, active`
	// A new version (clinic, treatment, language, version, source, sha256,
	// uploaded_by, created_at); no row when that version exists.
	qInsertClinicProtocol = `INSERT INTO clinic_protocols(clinic_id, treatment, language, version, source, sha256,
		uploaded_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(clinic_id, treatment, language, version) DO NOTHING RETURNING id`
	qClinicProtocols = `SELECT ` + clinicProtocolCols + ` FROM clinic_protocols WHERE clinic_id = ?
		ORDER BY treatment, language, version, id`
	qClinicProtocol = `SELECT ` + clinicProtocolCols + ` FROM clinic_protocols WHERE id = ? AND clinic_id = ?`
	// The same list without the sources: what planning reads on every
	// enrollment, parsing a source only when its SHA-256 is new to it.
	qClinicProtocolHeads = `SELECT id, clinic_id, treatment, language, version, '', sha256, coalesce(uploaded_by, 0),
		created_at, active FROM clinic_protocols WHERE clinic_id = ? ORDER BY treatment, language, version, id`
	// The active protocol of (clinic, treatment, language), if any.
	qActiveClinicProtocol = `SELECT ` + clinicProtocolCols + ` FROM clinic_protocols
		WHERE clinic_id = ? AND treatment = ? AND language = ? AND active <> 0`
	// Deactivates (clinic, treatment, language)'s protocols but one (id, 0 for none).
	qDeactivateClinicProtocols = `UPDATE clinic_protocols SET active = 0
		WHERE clinic_id = ? AND treatment = ? AND language = ? AND active <> 0 AND id <> ?`
	qActivateClinicProtocol = `UPDATE clinic_protocols SET active = 1 WHERE id = ? AND clinic_id = ?`

	// Patients and consent.
	patientCols      = `id, clinic_id, first_name, last_name, phone, email, timezone, sms_opt_out, email_opt_out, phone_bad, email_bad, created_at, language`
	qSelectPatient   = `SELECT ` + patientCols + ` FROM patients WHERE id = ? AND clinic_id = ?`
	qPatientByPhone  = `SELECT ` + patientCols + ` FROM patients WHERE clinic_id = ? AND phone = ?`
	qPatientsByPhone = `SELECT ` + patientCols + ` FROM patients WHERE phone = ? ORDER BY id`
	qInsertPatient   = `INSERT INTO patients(clinic_id, first_name, last_name, phone, email, timezone, created_at, updated_at, language)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// An enrolled patient's new details; an empty language keeps theirs.
	qUpdatePatient = `UPDATE patients SET first_name = ?, last_name = ?, email = ?, timezone = ?, updated_at = ?,
		email_bad = CASE WHEN email = ? THEN email_bad ELSE '' END,
		language = CASE WHEN CAST(? AS TEXT) = '' THEN language ELSE CAST(? AS TEXT) END
		WHERE id = ?`
	qSearchPatients = `SELECT ` + patientCols + ` FROM patients
		WHERE clinic_id = ? AND (? = '' OR lower(first_name || ' ' || last_name) LIKE lower(?) ESCAPE '\' OR phone LIKE ? ESCAPE '\')
		ORDER BY last_name, first_name, id LIMIT ?`
	qInsertConsent = `INSERT INTO consents(patient_id, channel, granted, at, method, wording_version, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	qSelectConsents = `SELECT id, patient_id, channel, granted, at, method, wording_version, detail
		FROM consents WHERE patient_id = ? ORDER BY at, id`
	qSetSMSOptOut   = `UPDATE patients SET sms_opt_out = ?, updated_at = ? WHERE id = ?`
	qSetEmailOptOut = `UPDATE patients SET email_opt_out = ?, updated_at = ? WHERE id = ?`
	qSetPhoneBad    = `UPDATE patients SET phone_bad = ?, updated_at = ? WHERE id = ?`
	qSetEmailBad    = `UPDATE patients SET email_bad = ?, updated_at = ? WHERE id = ?`

	// Enrollments.
	enrollmentCols = `id, clinic_id, patient_id, treatment, treated_at, session_number, series_length, external_ref,
		cancelled_at, created_at, protocol, protocol_version, language`
	qSelectEnrollment = `SELECT ` + enrollmentCols + ` FROM enrollments WHERE id = ? AND clinic_id = ?`
	// The "<> ''" terms let SQLite use the partial unique indexes (it cannot
	// tell that a bound parameter is not empty); without them each lookup
	// scanned every enrollment.
	qEnrollmentByIdem = `SELECT id, request_hash FROM enrollments
		WHERE clinic_id = ? AND idempotency_key = ? AND idempotency_key <> ''`
	qEnrollmentByRef = `SELECT id, request_hash FROM enrollments
		WHERE clinic_id = ? AND external_ref = ? AND external_ref <> ''`
	qEnrollmentsByPatient = `SELECT ` + enrollmentCols + ` FROM enrollments WHERE patient_id = ? AND clinic_id = ? ORDER BY treated_at DESC, id DESC`
	qLatestEnrollment     = `SELECT id FROM enrollments WHERE patient_id = ? ORDER BY treated_at DESC, id DESC LIMIT 1`
	qInsertEnrollment     = `INSERT INTO enrollments(clinic_id, patient_id, treatment, treated_at, session_number, series_length,
		external_ref, idempotency_key, request_hash, created_at, protocol, protocol_version, language)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qCancelEnrollment = `UPDATE enrollments SET cancelled_at = ? WHERE id = ? AND clinic_id = ? AND cancelled_at IS NULL`
	// Each enrollment of a group commit is written under this savepoint.
	qSavepoint  = `SAVEPOINT enrollment`
	qRelease    = `RELEASE enrollment`
	qRollbackTo = `ROLLBACK TO enrollment`
	// Earlier, still-active sessions of the same patient (superseded by a new one).
	// An active enrollment of the same patient, treatment and session:
	// not cancelled, with messages still to send.
	qActiveDuplicates = `SELECT ` + enrollmentCols + ` FROM enrollments e
		WHERE patient_id = ? AND treatment = ? AND session_number = ? AND id <> ? AND cancelled_at IS NULL
		AND EXISTS (SELECT 1 FROM messages m WHERE m.enrollment_id = e.id AND m.status IN ('scheduled', 'sending'))
		ORDER BY id DESC`
	qEarlierEnrollments = `SELECT id FROM enrollments
		WHERE patient_id = ? AND id <> ? AND session_number < ? AND cancelled_at IS NULL`

	// Messages.
	messageCols = `id, enrollment_id, clinic_id, patient_id, step, occurrence, channel, send_at, stale_at, status,
		attempts, next_attempt_at, ambiguous, provider_id, error_code, last_error, reason, subject, body, html_body,
		sent_at, updated_at, recipient, urgent, answer, concern_id, sent_by`
	qInsertMessage = `INSERT INTO messages(enrollment_id, clinic_id, patient_id, step, occurrence, channel, send_at,
		stale_at, status, next_attempt_at, reason, subject, body, html_body, updated_at, recipient, urgent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qMessagesByEnrollment = `SELECT ` + messageCols + ` FROM messages WHERE enrollment_id = ? ORDER BY send_at, id`
	qSelectMessage        = `SELECT ` + messageCols + ` FROM messages WHERE id = ?`
	// "provider_id <> ''" lets SQLite use the partial index messages_provider
	// (without it every receipt scanned the whole outbox), and an empty id
	// matches nothing.
	qMessageByProvider  = `SELECT ` + messageCols + ` FROM messages WHERE provider_id = ? AND provider_id <> ''`
	qEventsByEnrollment = `SELECT e.id, e.message_id, e.at, e.from_status, e.to_status, e.detail
		FROM events e JOIN messages m ON m.id = e.message_id WHERE m.enrollment_id = ? ORDER BY e.id`
	qEventsByMessage = `SELECT id, message_id, at, from_status, to_status, detail FROM events WHERE message_id = ? ORDER BY id`

	// The claim: one statement moves a batch of due messages to sending,
	// recording the intent (attempts, lease) before any provider call.
	// The subquery ends with the driver's SkipLocked ({{skip_locked}}), so
	// that replicas claim disjoint batches.
	qClaim = `UPDATE messages
		SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
		WHERE id IN (
			SELECT id FROM messages
			WHERE status = 'scheduled' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id
			LIMIT ? {{skip_locked}})
		RETURNING id, enrollment_id, clinic_id, patient_id, step, occurrence, channel, send_at, stale_at, attempts,
			next_attempt_at, ambiguous, provider_id, subject, body, html_body, recipient, urgent, answer`
	// What a provider needs besides the message, read once per patient,
	// clinic and enrollment of a claimed batch (ids as a JSON array, read
	// by the driver's IDList: {{ids}}).
	qClaimPatients = `SELECT id, first_name, last_name, phone, email, timezone, sms_opt_out, email_opt_out, phone_bad, email_bad,
		language FROM patients WHERE id IN ({{ids}})`
	qClaimClinics = `SELECT id, name, phone, sms_from, messaging_service_sid, email_from, reply_to, booking_url, default_language,
		quiet_hours FROM clinics WHERE id IN ({{ids}})`
	qClaimEnrollments = `SELECT id, session_number, series_length, treated_at, treatment, protocol, protocol_version, language
		FROM enrollments WHERE id IN ({{ids}})`
	// The claim's events, one per claimed message (ids as a JSON array):
	// one statement instead of one insert per message.
	qClaimEvents = `INSERT INTO events(message_id, at, from_status, to_status, detail)
		SELECT id, CAST(? AS BIGINT), 'scheduled', 'sending',
			'attempt ' || attempts || CASE WHEN ambiguous <> 0 THEN ' (after an ambiguous attempt)' ELSE '' END
		FROM messages WHERE id IN ({{ids}})
		ORDER BY next_attempt_at, id`

	// Outcomes: each guarded by the state it leaves, so a late or repeated
	// outcome never overwrites a newer state.
	// Sent, one message; qMarkSentRows below does several at once.
	qMarkSent = `UPDATE messages SET status = 'sent', provider_id = ?, sent_at = ?, lease_until = 0, ambiguous = 0,
		error_code = '', last_error = '', updated_at = ? WHERE id = ? AND status = 'sending'`
	qMarkFailedFromSending = `UPDATE messages SET status = 'failed', error_code = ?, last_error = ?, reason = ?,
		lease_until = 0, updated_at = ? WHERE id = ? AND status = 'sending'`
	qMarkRetry = `UPDATE messages SET status = 'scheduled', next_attempt_at = ?, error_code = ?, last_error = ?,
		ambiguous = ?, lease_until = 0, updated_at = ? WHERE id = ? AND status = 'sending'`
	qMarkSkippedFromSending = `UPDATE messages SET status = 'skipped', reason = ?, lease_until = 0, updated_at = ?
		WHERE id = ? AND status = 'sending'`
	qMarkReleased = `UPDATE messages SET status = 'scheduled', next_attempt_at = ?, reason = ?, lease_until = 0,
		attempts = attempts - 1, updated_at = ? WHERE id = ? AND status = 'sending'`

	// Housekeeping.
	qExpiredLeaseEvents = `INSERT INTO events(message_id, at, from_status, to_status, detail)
		SELECT id, CAST(? AS BIGINT), 'sending', 'scheduled', 'lease expired mid-send (crash or hang); provider will be checked before any resend'
		FROM messages WHERE status = 'sending' AND lease_until <= ?`
	qRecoverLeases = `UPDATE messages SET status = 'scheduled', ambiguous = 1, lease_until = 0,
		next_attempt_at = CASE WHEN next_attempt_at > ? THEN next_attempt_at ELSE ? END, updated_at = ?
		WHERE status = 'sending' AND lease_until <= ?`
	// Every event with its message's status, in order (CheckTransitions).
	qAllEvents = `SELECT e.id, e.message_id, e.from_status, e.to_status, m.status
		FROM events e JOIN messages m ON m.id = e.message_id ORDER BY e.message_id, e.id`
	// Scheduled messages past their stale time (see staleEnd).
	qStaleMessages = `SELECT id, attempts, last_error FROM messages WHERE status = 'scheduled' AND stale_at <= ? ORDER BY id`
	// One message ends (see endOne): status, reason, end_cause, at, id, the status it leaves.
	qEndMessage = `UPDATE messages SET status = ?, reason = ?, end_cause = ?, lease_until = 0, updated_at = ?
		WHERE id = ? AND status = ?`
	// An ended message scheduled again (see reopen): due, stale, at, id,
	// the status it leaves, the end_cause it must have ('' for failed).
	// qReopenFresh also forgets its attempts and provider details (a
	// resend: the event keeps them).
	qReopenMessage = `UPDATE messages SET status = 'scheduled', next_attempt_at = ?, stale_at = ?, reason = '', end_cause = '',
		lease_until = 0, updated_at = ?
		WHERE id = ? AND status = ? AND end_cause = ?`
	qReopenFresh = `UPDATE messages SET status = 'scheduled', next_attempt_at = ?, stale_at = ?, attempts = 0,
		ambiguous = 0, lease_until = 0, provider_id = '', error_code = '', last_error = '', reason = '', end_cause = '',
		sent_at = 0, updated_at = ?
		WHERE id = ? AND status = ? AND end_cause = ?`
	// Messages an opt-out cancelled (patient, channel, cause) whose time is
	// still ahead (now, now).
	qOptedOutAhead = `SELECT id, send_at, stale_at FROM messages
		WHERE patient_id = ? AND channel = ? AND status = 'cancelled' AND end_cause = ? AND send_at > ? AND stale_at > ?
		ORDER BY send_at, id`
	// After a restore: what may have gone out since the backup.
	qRestoredEvents = `INSERT INTO events(message_id, at, from_status, to_status, detail)
		SELECT id, CAST(? AS BIGINT), status, status, 'restored from a backup: may have been sent since; provider will be checked before any send'
		FROM messages WHERE status IN ('scheduled', 'sending') AND next_attempt_at <= ? AND ambiguous = 0`
	qFlagRestored = `UPDATE messages SET ambiguous = 1, updated_at = ?
		WHERE status IN ('scheduled', 'sending') AND next_attempt_at <= ? AND ambiguous = 0`
	qNextDue = `SELECT min(next_attempt_at) FROM messages WHERE status = 'scheduled'`

	// Cancelling and skipping pending messages in bulk (events first, then the update).
	qPendingIDs = `SELECT id FROM messages WHERE status = 'scheduled' AND %s`

	// Receipts.
	qReceipt = `UPDATE messages SET status = ?, error_code = ?, last_error = ?, reason = ?, updated_at = ?
		WHERE id = ? AND status = ?`

	// Replies.
	qInsertReply = `INSERT INTO replies(clinic_id, patient_id, provider_id, body, kind, at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(provider_id, patient_id) DO NOTHING RETURNING id`
	qRepliesByPatient = `SELECT id, clinic_id, patient_id, provider_id, body, kind, at FROM replies WHERE patient_id = ? ORDER BY at, id`

	// Counts.
	qCountByStatus = `SELECT status, count(*) FROM messages GROUP BY status`

	// Patients without a phone are known by their email address.
	qPatientByEmailOnly = `SELECT ` + patientCols + ` FROM patients WHERE clinic_id = ? AND phone = '' AND email <> '' AND lower(email) = lower(?)`
	qPatientsByEmail    = `SELECT ` + patientCols + ` FROM patients WHERE clinic_id = ? AND email <> '' AND lower(email) = lower(?) ORDER BY id LIMIT 2`
	qSetPatientPhone    = `UPDATE patients SET phone = ? WHERE id = ? AND phone = ''`
	// Ping's write (at): one row, rewritten each time.
	qPing = `INSERT INTO webhook_seen(kind, key, at) VALUES ('ping', 'ping', ?)
		ON CONFLICT(kind, key) DO UPDATE SET at = excluded.at`
	// qInsertConsent returning the consent's id.
	qInsertConsentReturning = qInsertConsent + ` RETURNING id`
	// An enrollment's patient (id, clinic).
	qEnrollmentPatient = `SELECT patient_id FROM enrollments WHERE id = ? AND clinic_id = ?`
	// Messages matching a condition (%s, with its own parameters), then LIMIT ?.
	qListMessages = `SELECT ` + messageCols + ` FROM messages WHERE %s ORDER BY id LIMIT ?`
	// Sent messages without a final receipt (before, channel, limit), oldest first.
	qSentBefore = `SELECT ` + messageCols + ` FROM messages
		WHERE status = 'sent' AND sent_at < ? AND channel = ? ORDER BY sent_at LIMIT ?`
	// A patient's scheduled messages on a channel (patient, channel).
	qScheduledOnChannel = `SELECT ` + messageCols + ` FROM messages WHERE patient_id = ? AND channel = ? AND status = 'scheduled'`
	// A patient's SMS opt-out (id).
	qSMSOptOut = `SELECT sms_opt_out FROM patients WHERE id = ?`
	// An enrollment's clinic and patient (id).
	qEnrollmentOwner = `SELECT id, clinic_id, patient_id FROM enrollments WHERE id = ?`
	// A failed message's stale time (id).
	qFailedStaleAt = `SELECT stale_at FROM messages WHERE id = ? AND status = 'failed'`
	// A patient's clinic (id).
	qPatientClinic = `SELECT clinic_id FROM patients WHERE id = ?`
)

// qMarkSentRows marks n messages sent in one statement: parameters are
// (id, provider_id, at) per message; it returns the ids it changed (those
// still in sending).
func qMarkSentRows(n int) string {
	row := "(CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT))"
	return `WITH v(id, provider_id, at) AS (VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + `)
		UPDATE messages SET status = 'sent', provider_id = v.provider_id, sent_at = v.at, lease_until = 0,
			ambiguous = 0, error_code = '', last_error = '', updated_at = v.at
		FROM v WHERE messages.id = v.id AND messages.status = 'sending'
		RETURNING messages.id`
}

// qInsertEventRows inserts n events: (message_id, at, from_status,
// to_status, detail) per event.
func qInsertEventRows(n int) string {
	return `INSERT INTO events(message_id, at, from_status, to_status, detail) VALUES ` + rowsOf(5, n)
}

// qInsertEventRowsReturning is qInsertEventRows returning each event's id
// and message id (RETURNING does not promise the insertion order).
func qInsertEventRowsReturning(n int) string {
	return qInsertEventRows(n) + ` RETURNING id, message_id`
}

// rowsOf returns n "(?, ?, …)" tuples of cols placeholders each.
func rowsOf(cols, n int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// How many enrollments a clinic made since a time, by treatment and
// language (the console's monthly text cost estimate).
const qRecentEnrollments = `SELECT treatment, language, count(*) FROM enrollments
	WHERE clinic_id = ? AND created_at >= ? GROUP BY treatment, language ORDER BY treatment, language`

// Re-planning an enrollment (see Replan).
const (
	// A scheduled, never-tried message's texts and times replaced in place:
	// subject, body, html_body, send_at, stale_at, next_attempt_at,
	// updated_at, id.
	qReplanMessage = `UPDATE messages SET subject = ?, body = ?, html_body = ?, send_at = ?, stale_at = ?,
		next_attempt_at = ?, updated_at = ?
		WHERE id = ? AND status = 'scheduled' AND attempts = 0 AND ambiguous = 0`
	// The protocol an enrollment is now planned with: protocol,
	// protocol_version, language, id, clinic.
	qSetEnrollmentProtocol = `UPDATE enrollments SET protocol = ?, protocol_version = ?, language = ?
		WHERE id = ? AND clinic_id = ? AND cancelled_at IS NULL`
	// A clinic's active enrollments (not cancelled, messages still to
	// send), optionally of one treatment ('' for all), oldest first.
	qActiveEnrollments = `SELECT ` + enrollmentCols + ` FROM enrollments e
		WHERE clinic_id = ? AND cancelled_at IS NULL AND (CAST(? AS TEXT) = '' OR treatment = CAST(? AS TEXT))
		AND EXISTS (SELECT 1 FROM messages m WHERE m.enrollment_id = e.id AND m.status IN ('scheduled', 'sending'))
		ORDER BY id`
)
