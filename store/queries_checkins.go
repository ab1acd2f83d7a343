package store

// The SQL of check-ins: patients' answers to question texts.

const (
	checkinCols = `id, clinic_id, patient_id, enrollment_id, reply_id, message_id, step, day, answer, outcome, follow_up_id, at`
	// An answer: clinic, patient, enrollment, reply, message, step, day,
	// answer, outcome, follow-up, at.
	qInsertCheckin = `INSERT INTO checkin_answers(clinic_id, patient_id, enrollment_id, reply_id, message_id, step, day,
			answer, outcome, follow_up_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(reply_id) DO NOTHING RETURNING id`
	// Texts sent to a patient's own phone since ? (patient, since), newest
	// first: the open question is among them.
	qRecentTextsToPatient = `SELECT m.id, m.enrollment_id, m.step, m.sent_at, e.treated_at
		FROM messages m JOIN enrollments e ON e.id = m.enrollment_id
		WHERE m.patient_id = ? AND m.channel = 'sms' AND m.recipient = '' AND m.sent_at > ?
		ORDER BY m.sent_at DESC, m.id DESC`
	// A patient's answers at a clinic (clinic, patient), oldest first.
	qPatientCheckins = `SELECT ` + checkinCols + ` FROM checkin_answers WHERE clinic_id = ? AND patient_id = ? ORDER BY at, id`
	// An enrollment's answers at a clinic (clinic, enrollment), oldest first.
	qEnrollmentCheckins = `SELECT ` + checkinCols + ` FROM checkin_answers WHERE clinic_id = ? AND enrollment_id = ? ORDER BY at, id`
	// Each patient's latest answer since ? at a clinic, when it says not
	// healing or red flag (clinic, since, clinic), most recent first, with
	// the patient's name.
	qNotHealing = `SELECT a.id, a.clinic_id, a.patient_id, a.enrollment_id, a.reply_id, a.message_id, a.step, a.day, a.answer,
			a.outcome, a.follow_up_id, a.at, p.first_name, p.last_name
		FROM checkin_answers a JOIN patients p ON p.id = a.patient_id
		WHERE a.clinic_id = ? AND a.at >= ? AND a.outcome IN ('not_healing', 'red_flag')
		  AND a.id = (SELECT b.id FROM checkin_answers b WHERE b.clinic_id = ? AND b.patient_id = a.patient_id
				ORDER BY b.at DESC, b.id DESC LIMIT 1)
		ORDER BY a.at DESC, a.id DESC`
)
