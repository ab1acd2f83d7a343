// Package storetest is the one suite every storage driver must pass: each
// behaviour of package store (enrolling, the outbox's claims, outcomes and
// receipts, concerns, the console's reads, keys, sign-in, privacy, the
// audit trail, clinics' planning settings and own protocols, booking
// events), run on stores the driver opens, so a behaviour that
// differed between SQLite and PostgreSQL is found here. A driver is done
// when Run passes. What is one database's own (SQLite's files, pragmas,
// backup) is tested in the driver's package, which may use the suite's
// fixtures (Setup, Enroll, Clock) for it.
//
// A driver's package wires it in a test of its own:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, storetest.Driver{Open: open, Reopen: reopen})
//	}
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
)

// Opener opens a fresh, empty store for one test (each call a new
// database) with the given options, passing opt.Clock on untouched. It
// fails tb if it cannot, and closes the store when tb ends (tb.Cleanup),
// so a test may also close it early.
type Opener func(tb testing.TB, opt store.Options) *store.Store

// Reopener opens one more store on the database that s (a store the
// driver's Opener returned) is on: while s is open it is a second daemon
// on the same database; after s is closed, the same daemon restarted. Like
// an Opener it fails tb if it cannot and closes the new store when tb ends.
type Reopener func(tb testing.TB, s *store.Store, opt store.Options) *store.Store

// Driver is how the suite reaches one driver's databases.
type Driver struct {
	// Open opens a store on a fresh database.
	Open Opener
	// Reopen opens another store on an opened store's database.
	Reopen Reopener
}

// Run runs every behaviour of the store against the driver d opens, each
// as a subtest, in parallel where the behaviour allows it.
func Run(t *testing.T, d Driver) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Driver)
	}{
		{"AuditTrailRecordsActorAndFilters", testAuditTrailRecordsActorAndFilters},
		{"ConcernRules", testConcernRules},
		{"ConcurrentRedFlagsAlertOnce", testConcurrentRedFlagsAlertOnce},
		{"UsersAreScopedByClinicAndUnique", testUsersAreScopedByClinicAndUnique},
		{"SessionsExpire", testSessionsExpire},
		{"ResendFailedMessage", testResendFailedMessage},
		{"ResendRefusedAfterOptOutOrCancel", testResendRefusedAfterOptOutOrCancel},
		{"DeliveryLogFailuresFirstAndFilters", testDeliveryLogFailuresFirstAndFilters},
		{"DailyCountsByLocalDayAcrossDST", testDailyCountsByLocalDayAcrossDST},
		{"PatientViewIsScopedByClinic", testPatientViewIsScopedByClinic},
		{"DuplicateEnrollmentRefused", testDuplicateEnrollmentRefused},
		{"FinishedSessionIsNotADuplicate", testFinishedSessionIsNotADuplicate},
		{"EmailOnlyAndPhoneOnlyPatients", testEmailOnlyAndPhoneOnlyPatients},
		{"APIKeyLifecycle", testAPIKeyLifecycle},
		{"APIKeyLabelChecked", testAPIKeyLabelChecked},
		{"UpdateClinicAuditsChangedFieldsOnly", testUpdateClinicAuditsChangedFieldsOnly},
		{"PasswordResetOnceAndExpires", testPasswordResetOnceAndExpires},
		{"TailMessagesAndEventsAfter", testTailMessagesAndEventsAfter},
		{"EveryChangeWritesItsAuditRow", testEveryChangeWritesItsAuditRow},
		{"ExportHoldsEverythingAndIsClinicScoped", testExportHoldsEverythingAndIsClinicScoped},
		{"RetentionPurgesBodiesAfterTheEnrollmentEnds", testRetentionPurgesBodiesAfterTheEnrollmentEnds},
		{"UserChangesAreAudited", testUserChangesAreAudited},
		{"RecoverAbandonedMakesEverySendingMessageDueNow", testRecoverAbandonedMakesEverySendingMessageDueNow},
		{"SessionIdleDeadlineMovesButNotPastExpiry", testSessionIdleDeadlineMovesButNotPastExpiry},
		{"LoginThrottleCountsBlocksResetsAndPrunes", testLoginThrottleCountsBlocksResetsAndPrunes},
		{"DisableUserEndsSessionsAndKeepsAnAdmin", testDisableUserEndsSessionsAndKeepsAnAdmin},
		{"EnrollmentIsStoredWithPlanAndEvents", testEnrollmentIsStoredWithPlanAndEvents},
		{"IdempotentEnrollment", testIdempotentEnrollment},
		{"FailedPlanWritesNothing", testFailedPlanWritesNothing},
		{"ClaimRecordAndTransitions", testClaimRecordAndTransitions},
		{"LeaseRecoveryAfterCrash", testLeaseRecoveryAfterCrash},
		{"SkipStale", testSkipStale},
		{"OptOutAndSupersede", testOptOutAndSupersede},
		{"CancelEnrollment", testCancelEnrollment},
		{"ReopenKeepsData", testReopenKeepsData},
		{"CreatedViewIsWhatIsStored", testCreatedViewIsWhatIsStored},
		{"RateLimitIsSharedThroughTheDatabase", testRateLimitIsSharedThroughTheDatabase},
		{"ClaimsOfTwoProcessesAreDisjoint", testClaimsOfTwoProcessesAreDisjoint},
		{"ClinicPlanningRoundTrips", testClinicPlanningRoundTrips},
		{"PatientLanguageAndEnrollmentProtocol", testPatientLanguageAndEnrollmentProtocol},
		{"ClinicProtocolLifecycle", testClinicProtocolLifecycle},
		{"RecentEnrollments", testRecentEnrollments},
		{"ReplanPendingMessages", testReplanPendingMessages},
		{"StatsPerWeekAndTreatment", testStatsPerWeekAndTreatment},
		{"BookingSecretRotation", testBookingSecretRotation},
		{"BookingCancelsAndReopensReminders", testBookingCancelsAndReopensReminders},
		{"BookingEventsOutOfOrder", testBookingEventsOutOfOrder},
		{"BookingHoldsLaterEnrollments", testBookingHoldsLaterEnrollments},
		{"PatientLinkLifecycle", testPatientLinkLifecycle},
		{"BookingClicksAndPhotos", testBookingClicksAndPhotos},
		{"ConcernPhotosFollowRetention", testConcernPhotosFollowRetention},
		{"CheckinAnswers", testCheckinAnswers},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, d) })
	}
}

// Clock is the tests' settable clock (testsupport.Clock).
type Clock = testsupport.Clock

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return testsupport.NewClock(t) }

// t0 is where Setup's clock starts and Enroll's plans begin.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

// Setup opens a fresh store with open, its clock standing at the suite's
// start time (clock.Now() until the test sets it), with one clinic. When
// tb ends it checks that every recorded transition was legal and every
// message is where its last event left it.
func Setup(tb testing.TB, open Opener) (*store.Store, *Clock, aftercare.Clinic) {
	tb.Helper()
	clock := NewClock(t0)
	s := open(tb, store.Options{Clock: clock})
	tb.Cleanup(func() {
		// Whatever the test did, every recorded transition is legal and
		// every message is where its last event left it.
		if err := s.CheckTransitions(context.Background()); err != nil {
			tb.Error(err)
		}
		s.Close()
	})
	c, key, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		tb.Fatal(err)
	}
	if got, err := s.ClinicByAPIKey(context.Background(), key); err != nil || got.ID != c.ID {
		tb.Fatalf("ClinicByAPIKey = %v, %v", got, err)
	}
	return s, clock, c
}

// plan returns n SMS messages due at t0+i minutes, stale a day later.
func plan(n int) func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
	return func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
		var out []aftercare.Message
		for i := 0; i < n; i++ {
			send := t0.Add(time.Duration(i) * time.Minute)
			out = append(out, aftercare.Message{Step: "step", Occurrence: i, Channel: aftercare.SMS, SendAt: send,
				StaleAt: send.Add(24 * time.Hour), Status: aftercare.StatusScheduled, Body: "hello"})
		}
		return out, nil
	}
}

// Enroll enrolls the patient with phone at clinic c for a session, with
// SMS consent and n texts planned: due at Setup's start time and a minute
// apart, each stale a day after it is due.
func Enroll(tb testing.TB, s *store.Store, c aftercare.Clinic, phone string, session, n int) store.EnrollmentView {
	tb.Helper()
	v, created, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: phone, Email: "ana@example.com", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: session, SeriesLength: 3},
		Consents:   []aftercare.Consent{{Channel: aftercare.SMS, Granted: true, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion}},
		Plan:       plan(n),
	})
	if err != nil || !created {
		tb.Fatalf("CreateEnrollment = %v, %v", created, err)
	}
	return v
}
