//go:build !unix

package sqlite

func writableHint(string) string { return "" }
