package alertd_test

import (
	"errors"
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/alertd/alertd"

// packageImports reads the imports of every package of the module, tests
// left out, by import path.
func packageImports(t *testing.T) map[string][]string {
	t.Helper()
	imports := make(map[string][]string)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if noGo := (*build.NoGoError)(nil); errors.As(err, &noGo) {
			return nil // a folder of other files
		}
		if err != nil {
			return err
		}
		imports[strings.TrimSuffix(module+"/"+filepath.ToSlash(path), "/.")] = pkg.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

// Composing and sending mail is go-mail's business alone: the rest of the
// code hands mail.Message values around.
func TestOnlyPackageMailImportsGoMail(t *testing.T) {
	for pkg, imports := range packageImports(t) {
		if pkg == module+"/internal/mail" {
			continue
		}
		for _, imp := range imports {
			if strings.HasPrefix(imp, "github.com/wneessen/go-mail") {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}

// Package mail renders and sends; it has no business with the database or
// with reading feeds, and builds without either.
func TestPackageMailNeedsNeitherDatabaseNorFeeds(t *testing.T) {
	all := packageImports(t)
	seen := map[string]bool{}
	var visit func(pkg string, via []string)
	visit = func(pkg string, via []string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		via = append(slices.Clip(via), pkg)
		for _, imp := range all[pkg] {
			for _, banned := range []string{"modernc.org/sqlite", "github.com/mmcdole/gofeed"} {
				if imp == banned || strings.HasPrefix(imp, banned+"/") {
					t.Errorf("%s imports %s", strings.Join(via, " → "), imp)
				}
			}
			if strings.HasPrefix(imp, module+"/") || imp == module {
				visit(imp, via)
			}
		}
	}
	visit(module+"/internal/mail", nil)
}
