package postgres

import (
	"slices"
	"testing"
)

func TestFKOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		names   []string
		parents map[string][]string
		want    []string
		err     bool
	}{
		{"independent by name", []string{"b", "a"}, nil, []string{"a", "b"}, false},
		{"parents first", []string{"events", "messages", "clinics", "enrollments"},
			map[string][]string{"events": {"messages"}, "messages": {"enrollments", "clinics"}, "enrollments": {"clinics"}},
			[]string{"clinics", "enrollments", "messages", "events"}, false},
		{"cycle", []string{"a", "b"}, map[string][]string{"a": {"b"}, "b": {"a"}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fkOrder(tc.names, tc.parents)
			if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
				t.Fatalf("fkOrder = %v, %v; want %v (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}
