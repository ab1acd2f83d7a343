package protocol

import (
	"slices"
	"testing"
)

// TestBookingSteps: the embedded protocols mark their "book your next
// session" reminders, in every language, and nothing else.
func TestBookingSteps(t *testing.T) {
	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	all := lib.All()
	if len(all) < 2 {
		t.Fatalf("embedded library has %d protocols, want English and Spanish", len(all))
	}
	for _, p := range all {
		if got, want := p.BookingSteps(), []string{"book_next", "last_call"}; !slices.Equal(got, want) {
			t.Errorf("%s (%s): booking steps %v, want %v", p.Name, p.Language, got, want)
		}
	}
}
