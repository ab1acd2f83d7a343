//go:build !unix

package store

func writableHint(string) string { return "" }
