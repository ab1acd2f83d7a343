package store

// The SQL of the console: users, sessions, sign-in, API keys, password resets, the dashboard, the log tail, audit and rate limits.

const (
	// Users, sessions, resends and the console dashboard.
	qInsertUser   = `INSERT INTO users(clinic_id, email, password_hash, created_at, role) VALUES (?, ?, ?, ?, ?) RETURNING id`
	qUserExists   = `SELECT count(*) FROM users WHERE clinic_id = ? AND email = ?`
	qUsersByEmail = `SELECT id, clinic_id, email, password_hash, created_at, role FROM users
		WHERE email = ? AND disabled_at IS NULL ORDER BY clinic_id, id LIMIT 20`

	qInsertSession = `INSERT INTO sessions(token_hash, user_id, clinic_id, csrf, created_at, expires_at, idle_until)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	qSessionByToken = `SELECT s.token_hash, s.user_id, s.clinic_id, s.csrf, s.created_at, s.expires_at, s.idle_until,
		u.email, u.role, ` + qualifiedClinicCols + `
		FROM sessions s
		JOIN users u ON u.id = s.user_id AND u.clinic_id = s.clinic_id AND u.disabled_at IS NULL
		JOIN clinics c ON c.id = s.clinic_id
		WHERE s.token_hash = ? AND s.expires_at > ? AND s.idle_until > ?`
	qDeleteSession         = `DELETE FROM sessions WHERE token_hash = ?`
	qDeleteExpiredSessions = `DELETE FROM sessions WHERE expires_at <= ? OR idle_until <= ?`

	// Resending a failed message reschedules the same row (see ResendMessage).
	qResendInfo = `SELECT m.status, m.send_at, m.stale_at, m.channel, m.recipient, m.provider_id, m.error_code,
		m.last_error, m.reason, e.cancelled_at IS NOT NULL, p.sms_opt_out, p.email_opt_out, p.phone_bad, p.email_bad,
		p.email
		FROM messages m JOIN enrollments e ON e.id = m.enrollment_id JOIN patients p ON p.id = m.patient_id
		WHERE m.id = ? AND m.clinic_id = ?`

	// The delivery log: a clinic's messages, failures first, then those
	// planned up to now (newest first), then the upcoming ones (soonest
	// first).
	qDeliveryLog = `SELECT %s, p.first_name, p.last_name FROM messages m JOIN patients p ON p.id = m.patient_id
		WHERE %s ORDER BY (m.status = 'failed') DESC, (m.send_at > ?) ASC,
			CASE WHEN m.send_at > ? THEN m.send_at ELSE -m.send_at END, m.id DESC LIMIT ? OFFSET ?`
	// Counts per status of messages planned in [week start, end), and of
	// those planned in [day start, end).
	qStatusCounts = `SELECT status, count(*) FILTER (WHERE send_at >= ?), count(*) FROM messages
		WHERE clinic_id = ? AND send_at >= ? AND send_at < ? GROUP BY status`
	// Sends and failures per local day: the days arrive as (index, start,
	// end) rows of unix milliseconds, computed by the caller in the
	// clinic's zone (days are 23 to 25 hours long across DST changes).
	qDailyCounts = `WITH days(i, lo, hi) AS (VALUES %s)
		SELECT days.i,
			count(m.id) FILTER (WHERE m.status IN ('sent', 'delivered')),
			count(m.id) FILTER (WHERE m.status = 'failed')
		FROM days LEFT JOIN messages m ON m.clinic_id = ? AND m.send_at >= days.lo AND m.send_at < days.hi
		GROUP BY days.i ORDER BY days.i`

	// Users and sign-in throttling.
	qUsers = `SELECT id, clinic_id, email, password_hash, created_at, role, coalesce(disabled_at, 0) FROM users
		WHERE clinic_id = ? ORDER BY disabled_at IS NOT NULL, email, id`
	qUserByEmail = `SELECT id, clinic_id, email, password_hash, created_at, role, coalesce(disabled_at, 0) FROM users
		WHERE clinic_id = ? AND email = ?`
	qUserByID = `SELECT id, clinic_id, email, password_hash, created_at, role, coalesce(disabled_at, 0) FROM users
		WHERE clinic_id = ? AND id = ?`
	qOtherActiveAdmins = `SELECT count(*) FROM users
		WHERE clinic_id = ? AND id <> ? AND role = 'admin' AND disabled_at IS NULL`
	qDisableUser        = `UPDATE users SET disabled_at = ? WHERE clinic_id = ? AND id = ? AND disabled_at IS NULL`
	qSetPassword        = `UPDATE users SET password_hash = ?, password_set_at = ? WHERE clinic_id = ? AND id = ?`
	qDeleteUserSessions = `DELETE FROM sessions WHERE user_id = ?`
	qTouchSession       = `UPDATE sessions SET idle_until = CASE WHEN ? < expires_at THEN ? ELSE expires_at END WHERE token_hash = ? AND idle_until < ?`
	qThrottleBlocks     = `SELECT coalesce(max(blocked_until), 0) FROM login_throttle WHERE key IN (?, ?) AND blocked_until > ?`
	qThrottleFailure    = `INSERT INTO login_throttle(key, failures, last_failure_at) VALUES (?, 1, ?)
		ON CONFLICT(key) DO UPDATE SET
			failures = CASE WHEN login_throttle.last_failure_at <= ? THEN 1 ELSE login_throttle.failures + 1 END,
			last_failure_at = excluded.last_failure_at
		RETURNING failures`
	qThrottleBlock = `UPDATE login_throttle SET blocked_until = CASE WHEN blocked_until > ? THEN blocked_until ELSE ? END WHERE key = ?`
	qThrottleClear = `DELETE FROM login_throttle WHERE key = ?`
	qThrottlePrune = `DELETE FROM login_throttle WHERE last_failure_at <= ? AND blocked_until <= ?`

	// API keys.
	qAPIKeys = `SELECT id, clinic_id, label, prefix, created_at, coalesce(last_used_at, 0), coalesce(revoked_at, 0)
		FROM api_keys WHERE clinic_id = ? ORDER BY revoked_at IS NOT NULL, id`
	qAPIKey       = `SELECT label, coalesce(revoked_at, 0) FROM api_keys WHERE id = ? AND clinic_id = ?`
	qRevokeAPIKey = `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND clinic_id = ? AND revoked_at IS NULL`
	// The WHERE makes concurrent requests write last_used_at at most once
	// per LastUsedEvery between them.
	qTouchAPIKey = `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND coalesce(last_used_at, 0) <= ?`

	// The delivery log tail.
	tailCols = `m.id, m.enrollment_id, m.clinic_id, m.patient_id, m.step, m.occurrence, m.channel, m.send_at, m.stale_at,
		m.status, m.attempts, m.next_attempt_at, m.provider_id, m.error_code, m.last_error, m.reason, m.sent_at,
		m.updated_at, m.recipient, m.urgent,
		CASE WHEN m.recipient <> '' THEN m.recipient WHEN m.channel = 'sms' THEN p.phone ELSE p.email END`
	qTailMessages = `SELECT ` + tailCols + ` FROM messages m JOIN patients p ON p.id = m.patient_id
		WHERE %s ORDER BY m.id DESC LIMIT ?`
	qTailEvents = `SELECT e.id, e.at, e.from_status, e.to_status, e.detail, ` + tailCols + `
		FROM events e JOIN messages m ON m.id = e.message_id JOIN patients p ON p.id = m.patient_id
		WHERE %s ORDER BY e.id LIMIT ?`
	qLastEventID = `SELECT coalesce(max(id), 0) FROM events`

	// The audit log.
	qInsertAudit = `INSERT INTO audit_log (clinic_id, at, actor_kind, actor_id, actor_label, ip, action, patient_id, enrollment_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	auditCols = `id, coalesce(clinic_id, 0), at, actor_kind, coalesce(actor_id, 0), actor_label, ip, action,
		coalesce(patient_id, 0), coalesce(enrollment_id, 0), detail`

	// Password resets.
	qInsertPasswordReset = `INSERT INTO password_resets(token_hash, user_id, clinic_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`
	qRetirePasswordResets = `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`
	qPasswordReset        = `SELECT u.id, u.clinic_id, u.email, u.password_hash, u.created_at
		FROM password_resets r JOIN users u ON u.id = r.user_id AND u.clinic_id = r.clinic_id AND u.disabled_at IS NULL
		WHERE r.token_hash = ? AND r.used_at IS NULL AND r.expires_at > ?`
	qDeleteOldPasswordResets = `DELETE FROM password_resets WHERE expires_at <= ?`

	// Rate limits.
	// qAllow is one step of the generic cell rate algorithm: a key's row holds
	// its theoretical arrival time (tat); a request at now is allowed if
	// max(tat, now) - now <= (burst-1)·every, and then moves tat to
	// max(tat, now) + every. Parameters: key, now+every (a new key's tat),
	// now, now, every, now, now, (burst-1)·every. No row returned: refused.
	qAllow = `INSERT INTO rate_limits(key, tat) VALUES (?, ?)
	ON CONFLICT(key) DO UPDATE SET
		tat = CASE WHEN rate_limits.tat < ? THEN ? ELSE rate_limits.tat END + ?
	WHERE (CASE WHEN rate_limits.tat < ? THEN ? ELSE rate_limits.tat END) - ? <= ?
	RETURNING tat`
	// Buckets refilled by now (now).
	qPruneRateLimits = `DELETE FROM rate_limits WHERE tat <= ?`
	// Audit rows older than the retention period (before).
	qPurgeAudit = `DELETE FROM audit_log WHERE at < ?`
	// An audit row about a patient, its clinic read from the patient's row: at, actor
	// kind, id, label, ip, action, enrollment_id, detail, patient id.
	qInsertPatientAudit = `INSERT INTO audit_log (clinic_id, at, actor_kind, actor_id, actor_label, ip, action, patient_id, enrollment_id, detail)
		SELECT clinic_id, ?, ?, ?, ?, ?, ?, id, ?, ? FROM patients WHERE id = ?`
	// An audit row about a message's patient and enrollment: at, actor kind, id,
	// label, ip, action, detail, message id.
	qInsertMessageAudit = `INSERT INTO audit_log (clinic_id, at, actor_kind, actor_id, actor_label, ip, action, patient_id, enrollment_id, detail)
		SELECT clinic_id, ?, ?, ?, ?, ?, ?, patient_id, enrollment_id, ? FROM messages WHERE id = ?`
	// A password set through a reset link: hash, at, user id.
	qResetPassword = `UPDATE users SET password_hash = ?, password_set_at = ? WHERE id = ?`
	// Whether a clinic exists (its count).
	qClinicExists = `SELECT count(*) FROM clinics WHERE id = ?`
	// qInsertAPIKey returning the key's id.
	qInsertAPIKeyReturning = qInsertAPIKey + ` RETURNING id`
)

// qAuditLog reads audit rows matching where (a condition with its own
// parameters; empty for all), newest first, then LIMIT ?.
func qAuditLog(where string) string {
	q := `SELECT ` + auditCols + ` FROM audit_log`
	if where != "" {
		q += ` WHERE ` + where
	}
	return q + ` ORDER BY id DESC LIMIT ?`
}
