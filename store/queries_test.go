package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSQLLivesInQueries fails if a non-test file of package store other
// than queries*.go holds an SQL statement literal: all of the store's SQL
// lives in queries*.go, so it can be read (and reviewed) in one place.
func TestSQLLivesInQueries(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Go files found")
	}
	keywords := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE", "ALTER", "DROP", "PRAGMA", "VACUUM"}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "queries") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			if isErrorText(n) {
				return false // "create user: %w" is an error's text, not SQL
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: unquote %s: %v", fset.Position(lit.Pos()), lit.Value, err)
				return true
			}
			s = strings.ToUpper(strings.TrimSpace(s))
			for _, kw := range keywords {
				if rest, ok := strings.CutPrefix(s, kw); ok && (rest == "" || strings.IndexAny(rest[:1], " \t\n\r(") == 0) {
					t.Errorf("%s: SQL statement outside queries*.go: %.60q", fset.Position(lit.Pos()), s)
					break
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no non-test files checked")
	}
}

// isErrorText reports whether n is a call to fmt.Errorf or errors.New,
// whose literals are an error's text ("update clinic %d: %w"), not SQL.
func isErrorText(n ast.Node) bool {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "fmt" && sel.Sel.Name == "Errorf" || pkg.Name == "errors" && sel.Sel.Name == "New")
}
