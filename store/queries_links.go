package store

// The SQL of patient links, booking clicks and concern photos (issue 14).

const (
	// A link (token_hash, enrollment, clinic, patient, expires_at, created_at).
	qInsertLink = `INSERT INTO patient_links(token_hash, enrollment_id, clinic_id, patient_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	// linkCols are what scanLink reads: a link revoked, or whose enrollment
	// was cancelled or whose patient was erased, reads as revoked then.
	linkCols = `l.id, l.enrollment_id, l.clinic_id, l.patient_id, l.expires_at,
		coalesce(l.revoked_at, e.cancelled_at, p.erased_at, 0), l.created_at`
	linkFrom = ` FROM patient_links l JOIN enrollments e ON e.id = l.enrollment_id JOIN patients p ON p.id = l.patient_id`
	// The link of a token hash.
	qLinkByHash = `SELECT ` + linkCols + linkFrom + ` WHERE l.token_hash = ?`
	// An enrollment's link (enrollment, clinic), newest first.
	qEnrollmentLink = `SELECT ` + linkCols + linkFrom + ` WHERE l.enrollment_id = ? AND l.clinic_id = ? ORDER BY l.id DESC LIMIT 1`
	// Revokes an enrollment's links (at, enrollment, clinic).
	qRevokeLinks = `UPDATE patient_links SET revoked_at = ? WHERE enrollment_id = ? AND clinic_id = ? AND revoked_at IS NULL`
	// Revokes a cancelled enrollment's links (at, enrollment).
	qRevokeEnrollmentLinks = `UPDATE patient_links SET revoked_at = ? WHERE enrollment_id = ? AND revoked_at IS NULL`
	// Deletes an erased patient's links, clicks and photos (patient).
	qDeletePatientLinks  = `DELETE FROM patient_links WHERE patient_id = ?`
	qDeletePatientClicks = `DELETE FROM booking_clicks WHERE enrollment_id IN (SELECT id FROM enrollments WHERE patient_id = ?)`
	qDeletePatientPhotos = `DELETE FROM reply_photos WHERE patient_id = ?`

	// A click on the booking redirect (clinic, enrollment, at).
	qInsertBookingClick = `INSERT INTO booking_clicks(clinic_id, enrollment_id, at) VALUES (?, ?, ?)`
	// An enrollment's clicks (enrollment, clinic).
	qEnrollmentBookingClicks = `SELECT count(*) FROM booking_clicks WHERE enrollment_id = ? AND clinic_id = ?`

	// A concern's photo (reply, clinic, patient, content type, data, at).
	qInsertReplyPhoto = `INSERT INTO reply_photos(reply_id, clinic_id, patient_id, content_type, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	// Deletes photos sent before the cutoff (cutoff) by patients whose every
	// enrollment is purged: the retention rule of reply texts.
	qPurgeReplyPhotos = `DELETE FROM reply_photos WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.patient_id = reply_photos.patient_id AND e.bodies_purged_at IS NULL)`
	// A photo (reply, clinic).
	qReplyPhoto = `SELECT reply_id, patient_id, content_type, data, created_at FROM reply_photos WHERE reply_id = ? AND clinic_id = ?`
)
