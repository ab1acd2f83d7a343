package store

// The SQL of concerns, the inbox, settings, and privacy (export, erasure, purges).

const (
	// Concerns.
	concernCols = `id, clinic_id, patient_id, kind, status, emergency, signs, opened_at, last_reply_at, replies,
	alerted_at, alerts, answered_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, alert_failed_at, alert_failure`
	// A setting's value (key).
	qSetting = `SELECT value FROM settings WHERE key = ?`
	// A setting (key, value), unless one is there.
	qInsertSetting = `INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`
	// A patient's unresolved concern (patient).
	qOpenConcern = `SELECT ` + concernCols + ` FROM concerns WHERE patient_id = ? AND status <> 'resolved'`
	// A new open concern: clinic, patient, kind, emergency, signs, opened_at, last_reply_at.
	qInsertConcern = `INSERT INTO concerns(clinic_id, patient_id, kind, status, emergency, signs, opened_at, last_reply_at, replies)
			VALUES (?, ?, ?, 'open', ?, ?, ?, ?, 1) RETURNING id`
	// Another reply under a concern: kind, status, emergency, signs, last_reply_at, id.
	qConcernReply = `UPDATE concerns SET kind = ?, status = ?, emergency = ?, signs = ?, last_reply_at = ?,
			replies = replies + 1 WHERE id = ?`
	// Files a reply under a concern (concern, reply).
	qFileReply = `UPDATE replies SET concern_id = ? WHERE id = ?`
	// When a patient's step was last planned (patient, step).
	qLastStepSend = `SELECT max(send_at) FROM messages WHERE patient_id = ? AND step = ?`
	// A concern's alert and answer state: alerted_at, alerts, answered_at, id.
	qConcernAlerted = `UPDATE concerns SET alerted_at = ?, alerts = ?, answered_at = ? WHERE id = ?`
	// A concern's replies (concern), oldest first.
	qConcernReplies = `SELECT id, clinic_id, patient_id, provider_id, body, kind, at FROM replies
		WHERE concern_id = ? ORDER BY at, id`
	// Ties a message to a concern: concern, answer, sent_by, message.
	qTieMessage = `UPDATE messages SET concern_id = ?, answer = ?, sent_by = ? WHERE id = ?`
	// Open red flags alerted at or before ? fewer than ? times (a qConcerns condition).
	wRealert = `status = 'open' AND kind = 'red_flag' AND alerted_at > 0 AND alerted_at <= ? AND alerts < ?
		ORDER BY alerted_at, id`
	// Concerns matching a condition appended after it (with its own parameters).
	qConcerns = `SELECT ` + concernCols + ` FROM concerns WHERE `
	// Another alert of an open concern (at, id, the alerted_at it must still have).
	qRealert = `UPDATE concerns SET alerted_at = ?, alerts = alerts + 1
		WHERE id = ? AND status = 'open' AND alerted_at = ?`
	// Unresolved red flags alerted and not undeliverable (a qConcerns condition).
	wAlerting = `status <> 'resolved' AND kind = 'red_flag' AND alerts > 0 AND alert_failed_at = 0 ORDER BY id`
	// A concern's alerts to staff (concern).
	qConcernAlerts = `SELECT ` + messageCols + ` FROM messages WHERE concern_id = ? AND concern_id <> 0
			AND recipient <> '' ORDER BY id`
	// An alert no route delivered: at, why, concern (once).
	qAlertUndeliverable = `UPDATE concerns SET alert_failed_at = ?, alert_failure = ? WHERE id = ? AND alert_failed_at = 0`
	// When a patient (their own number) was last texted (patient).
	qLastTexted = `SELECT max(sent_at) FROM messages WHERE patient_id = ? AND channel = 'sms'
		AND recipient = '' AND sent_at > 0`
	// Unresolved concerns whose alert reached nobody (clinic, clinic; 0 for all).
	qUndeliverableAlerts = `SELECT count(*) FROM concerns WHERE alert_failed_at > 0 AND status <> 'resolved'
		AND (? = 0 OR clinic_id = ?)`
	// A concern's messages of one step (concern, step).
	qConcernStepMessages = `SELECT ` + messageCols + ` FROM messages WHERE concern_id = ? AND concern_id <> 0
			AND step = ? ORDER BY id`
	// A clinic's unresolved red flags, questions and undeliverable alerts (clinic).
	qInboxCounts = `SELECT
			count(*) FILTER (WHERE status = 'open' AND kind = 'red_flag'),
			count(*) FILTER (WHERE status = 'open' AND kind = 'question'),
			count(*) FILTER (WHERE alert_failed_at > 0)
		FROM concerns WHERE clinic_id = ? AND status <> 'resolved'`
	// A clinic's unresolved concerns (a qConcerns condition).
	wUnresolved = `clinic_id = ? AND status <> 'resolved'`
	// One of a clinic's concerns (id, clinic).
	qConcernAt = `SELECT ` + concernCols + ` FROM concerns WHERE id = ? AND clinic_id = ?`
	// Acknowledges an open concern: at, by, id, clinic.
	qAcknowledgeConcern = `UPDATE concerns SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?
		WHERE id = ? AND clinic_id = ? AND status = 'open'`
	// Resolves a concern (acknowledging it too if nobody had): at, by, at, by, id, clinic.
	qResolveConcern = `UPDATE concerns SET status = 'resolved', resolved_at = ?, resolved_by = ?,
		acknowledged_at = CASE WHEN acknowledged_at = 0 THEN ? ELSE acknowledged_at END,
		acknowledged_by = CASE WHEN acknowledged_by = '' THEN ? ELSE acknowledged_by END
		WHERE id = ? AND clinic_id = ? AND status <> 'resolved'`
	// A concern's patient (id).
	qConcernPatient = `SELECT patient_id FROM concerns WHERE id = ?`
	// The next occurrence of a step in an enrollment (enrollment, step).
	qNextOccurrence = `SELECT coalesce(max(occurrence), 0) + 1 FROM messages WHERE enrollment_id = ? AND step = ?`
	// A staff reply answered (and acknowledged) a concern: at, at, by, id.
	qStaffAnswered = `UPDATE concerns SET answered_at = ?,
		status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END,
		acknowledged_at = CASE WHEN acknowledged_at = 0 THEN ? ELSE acknowledged_at END,
		acknowledged_by = CASE WHEN acknowledged_by = '' THEN ? ELSE acknowledged_by END
		WHERE id = ?`
	// When a patient was erased (id; NULL if not).
	qErasedAt = `SELECT erased_at FROM patients WHERE id = ?`
	// When an enrollment's message bodies were purged (id; NULL if not).
	qBodiesPurgedAt = `SELECT bodies_purged_at FROM enrollments WHERE id = ?`
	// Cancels a patient's enrollments (at, patient).
	qCancelPatientEnrollments = `UPDATE enrollments SET cancelled_at = ? WHERE patient_id = ? AND cancelled_at IS NULL`
	// When a patient last opted out (patient; 0 if never).
	qLastOptOut = `SELECT coalesce(max(at), 0) FROM consents WHERE patient_id = ? AND granted = 0`
	// Forgets an erased address's opt-out (hash): it opted back in.
	qDeleteErasedOptOut = `DELETE FROM erased_optouts WHERE hash = ?`
	// An opt-out kept past an erasure, as a hash: hash, clinic, channel, opted_out_at, erased_at.
	qInsertErasedOptOut = `INSERT INTO erased_optouts(hash, clinic_id, channel, opted_out_at, erased_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING`
	// A patient's messages, and staff alerts about them (patient, patient).
	qErasedMessageIDs = `SELECT id FROM messages WHERE patient_id = ? OR concern_id IN (SELECT id FROM concerns WHERE patient_id = ?)`
	// Empties a patient's replies (patient).
	qEraseReplies = `UPDATE replies SET body = '' WHERE patient_id = ?`
	// Empties a patient's consent details (patient).
	qEraseConsents = `UPDATE consents SET detail = '' WHERE patient_id = ?`
	// Drops a patient's enrollments' outside references (patient).
	qEraseEnrollments = `UPDATE enrollments SET external_ref = '', idempotency_key = '', request_hash = '' WHERE patient_id = ?`
	// Erases a patient: placeholder name, at, at, id.
	qErasePatient = `UPDATE patients SET first_name = ?, last_name = '', phone = '', email = '',
		phone_bad = '', email_bad = '', language = '', erased_at = ?, updated_at = ? WHERE id = ?`
	// When an erased address opted out (hash).
	qErasedOptOut = `SELECT opted_out_at FROM erased_optouts WHERE hash = ?`
	// Enrollments ended before the cutoff (cutoff) whose bodies are still kept, up to 1000.
	qPurgeableEnrollments = `SELECT e.id FROM enrollments e WHERE e.bodies_purged_at IS NULL
		AND coalesce(e.cancelled_at, (SELECT CASE WHEN max(m.send_at) > max(m.sent_at) THEN max(m.send_at) ELSE max(m.sent_at) END FROM messages m WHERE m.enrollment_id = e.id), e.created_at) < ?
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.enrollment_id = e.id AND m.status IN ('scheduled', 'sending'))
		LIMIT 1000`
	// Empties an enrollment's message bodies (enrollment).
	qPurgeMessageBodies = `UPDATE messages SET subject = '', body = '', html_body = '' WHERE enrollment_id = ?`
	// Records when an enrollment's bodies were purged (at, id).
	qMarkBodiesPurged = `UPDATE enrollments SET bodies_purged_at = ? WHERE id = ?`
	// Empties reply texts older than the cutoff (cutoff) of patients whose every enrollment is purged.
	qPurgeReplies = `UPDATE replies SET body = '' WHERE body <> '' AND at < ?
		AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.patient_id = replies.patient_id AND e.bodies_purged_at IS NULL)`
	// Empties the signs of concerns resolved before the cutoff (cutoff).
	qPurgeConcernSigns = `UPDATE concerns SET signs = '' WHERE signs <> '' AND status = 'resolved' AND last_reply_at < ?`
)

// qInbox lists a clinic's concerns with their patients (clinic, all, limit):
// open red flags first, then open questions, then acknowledged, then
// resolved (when all), newest first within each.
func qInbox() string {
	return `SELECT ` + qualify("c", concernCols) + `, p.first_name, p.last_name, p.phone, p.sms_opt_out
		FROM concerns c JOIN patients p ON p.id = c.patient_id
		WHERE c.clinic_id = ? AND (? OR c.status <> 'resolved')
		ORDER BY CASE WHEN c.status = 'open' AND c.kind = 'red_flag' THEN 0 WHEN c.status = 'open' THEN 1
			WHEN c.status = 'acknowledged' THEN 2 ELSE 3 END, c.last_reply_at DESC, c.id DESC
		LIMIT ?`
}

// qEraseMessages empties a patient's messages (patient, patient), their
// reason replaced by reason (an expression scrubbing it).
func qEraseMessages(reason string) string {
	return `UPDATE messages SET subject = '', body = '', html_body = '', recipient = '', last_error = '',
		reason = ` + reason + `, sent_by = sent_by WHERE id IN (` + qErasedMessageIDs + `)`
}

// qEraseEvents replaces the details of a patient's messages' events by
// detail (an expression scrubbing them): patient, patient.
func qEraseEvents(detail string) string {
	return `UPDATE events SET detail = ` + detail + ` WHERE message_id IN (` + qErasedMessageIDs + `)`
}

// qEraseConcerns empties a patient's concerns' signs, their alert failure
// replaced by failure (an expression scrubbing it): patient.
func qEraseConcerns(failure string) string {
	return `UPDATE concerns SET signs = '', alert_failure = ` + failure + ` WHERE patient_id = ?`
}
