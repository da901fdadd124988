package alerts_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trackskills/trackskills/alerts"
)

// FuzzParse checks that any input gives a file or a *FileError whose
// problems all have a position, and never a panic. The seed corpus is
// testdata/fuzz/FuzzParse, plus the example file.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "examples", "alerts.yml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(goodFile))
	getenv := env(map[string]string{"SLACK_URL": "https://hooks.slack.test/x", "TOKEN": "t", "TRACKSKILLS_SLACK_WEBHOOK": "https://h.test/"})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := alerts.Parse("f.yml", data, getenv)
		if err == nil {
			if file == nil {
				t.Fatal("no file and no error")
			}
			for _, r := range file.Rules {
				if r.Name == "" || r.Kind == "" {
					t.Fatalf("rule without name or kind: %+v", r)
				}
			}
			return
		}
		var fe *alerts.FileError
		if !errors.As(err, &fe) || len(fe.Problems) == 0 {
			t.Fatalf("err=%v, want a *FileError with problems", err)
		}
		for _, p := range fe.Problems {
			if p.Line < 1 || p.Col < 1 || p.Msg == "" {
				t.Fatalf("problem without position or message: %+v", p)
			}
		}
	})
}
