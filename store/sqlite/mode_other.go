//go:build !unix

package sqlite

// secureFiles does nothing where files have no Unix modes.
func secureFiles(path string) error { return nil }

// tightenSideFiles does nothing where files have no Unix modes.
func tightenSideFiles(path string) error { return nil }
