package store

// The SQL of the outcome statistics (Stats). Every query starts from the
// same cohort: the clinic's enrollments (not cancelled) treated in one of
// the weeks given as (index, start, end) rows of unix milliseconds, which
// the caller computes in the clinic's zone. A patient's replies, opt-outs
// and red flags belong to the enrollment that was the patient's latest
// when they happened: its window runs from its creation to the creation
// of the patient's next enrollment. Parameters: the weeks' values, then
// the clinic id.
//
// Each query groups by (week index, treatment); a new source (check-in
// answers, booking-link clicks, booking events) is one more query of this
// shape, joined to the cohort by enrollment or by patient and window.
const (
	qStatsCohort = `WITH weeks(i, lo, hi) AS (VALUES %s),
	cohort AS (
		SELECT e.id, e.patient_id, e.treatment, w.i AS wk, e.treated_at, e.session_number, e.series_length,
			e.created_at AS lo,
			coalesce((SELECT min(n.created_at) FROM enrollments n WHERE n.patient_id = e.patient_id AND n.id > e.id),
				9223372036854775807) AS hi
		FROM weeks w JOIN enrollments e ON e.clinic_id = ? AND e.treated_at >= w.lo AND e.treated_at < w.hi
		WHERE e.cancelled_at IS NULL)
	`

	// Enrollments, patients, enrollments of an unfinished series, those
	// whose patient has a later enrollment at the clinic treated within
	// the rebooking window, and those not rebooked whose window is still
	// open. Extra parameters: window (ms), now (ms), window (ms).
	qStatsEnrollments = qStatsCohort + `SELECT c.wk, c.treatment, count(*), count(DISTINCT c.patient_id),
		count(*) FILTER (WHERE c.session_number < c.series_length),
		count(*) FILTER (WHERE c.session_number < c.series_length AND c.rebooked = 1),
		count(*) FILTER (WHERE c.session_number < c.series_length AND c.rebooked = 0 AND c.treated_at + ? > ?)
	FROM (SELECT c.*, CASE WHEN EXISTS (SELECT 1 FROM enrollments n
			WHERE n.patient_id = c.patient_id AND n.id <> c.id AND n.cancelled_at IS NULL
				AND n.treated_at > c.treated_at AND n.treated_at <= c.treated_at + ?) THEN 1 ELSE 0 END AS rebooked
		FROM cohort c) c
	GROUP BY c.wk, c.treatment`

	// Messages per channel and status, failures per reason.
	qStatsMessages = qStatsCohort + `SELECT c.wk, c.treatment, m.channel, m.status,
		CASE WHEN m.status = 'failed' THEN CASE WHEN m.reason <> '' THEN m.reason WHEN m.error_code <> '' THEN m.error_code
			ELSE 'unknown' END ELSE '' END AS why,
		count(*)
	FROM cohort c JOIN messages m ON m.enrollment_id = c.id
	GROUP BY c.wk, c.treatment, m.channel, m.status, why`

	// Patients who opted out of a channel themselves (STOP, the
	// unsubscribe link, the carrier's opt-out) in the enrollment's window.
	qStatsOptOuts = qStatsCohort + `SELECT c.wk, c.treatment, k.channel, count(DISTINCT c.patient_id)
	FROM cohort c JOIN consents k ON k.patient_id = c.patient_id AND k.granted = 0
		AND k.method IN ('sms_reply', 'unsubscribe_link', 'provider') AND k.at >= c.lo AND k.at < c.hi
	GROUP BY c.wk, c.treatment, k.channel`

	// Patients' texts other than the keywords STOP, START and HELP.
	qStatsReplies = qStatsCohort + `SELECT c.wk, c.treatment, count(*)
	FROM cohort c JOIN replies r ON r.patient_id = c.patient_id AND r.at >= c.lo AND r.at < c.hi
		AND r.kind NOT IN ('stop', 'start', 'help')
	GROUP BY c.wk, c.treatment`

	// Red flags opened in the window, with when staff acknowledged them
	// (0: not yet). Extra parameter: the clinic id again (concerns are
	// reached by clinic: no index leads from a patient to all of theirs).
	qStatsRedFlags = qStatsCohort + `SELECT c.wk, c.treatment, k.opened_at, k.acknowledged_at
	FROM concerns k JOIN cohort c ON k.patient_id = c.patient_id
		AND k.opened_at >= c.lo AND k.opened_at < c.hi
	WHERE k.clinic_id = ? AND k.kind = 'red_flag'
	ORDER BY c.wk, c.treatment, k.id`

	// Clicks on the cohort's booking links, and the enrollments clicked.
	qStatsBookingClicks = qStatsCohort + `SELECT c.wk, c.treatment, count(*), count(DISTINCT c.id)
	FROM cohort c JOIN booking_clicks b ON b.enrollment_id = c.id
	GROUP BY c.wk, c.treatment`

	// The booking system's booked and cancelled events about the cohort's
	// patients in the window. Extra parameter: the clinic id again.
	qStatsBookingEvents = qStatsCohort + `SELECT c.wk, c.treatment, b.event, count(*)
	FROM cohort c JOIN booking_events b ON b.patient_id = c.patient_id
		AND b.occurred_at >= c.lo AND b.occurred_at < c.hi
	WHERE b.clinic_id = ? AND b.event IN ('appointment.booked', 'appointment.cancelled')
	GROUP BY c.wk, c.treatment, b.event`

	// Answers to the cohort's check-in questions by outcome, the
	// enrollments that answered, and those that answered "not healing"
	// or with a red flag at least once.
	qStatsCheckins = qStatsCohort + `SELECT c.wk, c.treatment,
		count(*) FILTER (WHERE a.outcome = 'healing'),
		count(*) FILTER (WHERE a.outcome = 'not_healing'),
		count(*) FILTER (WHERE a.outcome = 'red_flag'),
		count(DISTINCT c.id),
		count(DISTINCT CASE WHEN a.outcome IN ('not_healing', 'red_flag') THEN c.id END)
	FROM cohort c JOIN checkin_answers a ON a.patient_id = c.patient_id AND a.enrollment_id = c.id
	GROUP BY c.wk, c.treatment`

	// Opt-outs patients made themselves (as in qStatsOptOuts; a consent
	// declined at enrollment is not one), by channel and method, across
	// clinics (for the metrics).
	qCountOptOuts = `SELECT channel, method, count(*) FROM consents
	WHERE granted = 0 AND method IN ('sms_reply', 'unsubscribe_link', 'provider')
	GROUP BY channel, method ORDER BY channel, method`
)
