package transcripts_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/transcripts"
)

// FuzzRead feeds any bytes to the reader: it never fails on them, and
// every event it makes names a tool and comes from source import.
func FuzzRead(f *testing.F) {
	body, err := os.ReadFile(mainFile)
	if err != nil {
		f.Fatal(err)
	}
	// A few lines at a time: Go's fuzzer makes little of large inputs.
	lines := bytes.Split(body, []byte("\n"))
	for i := 0; i+3 <= len(lines); i += 3 {
		f.Add(bytes.Join(lines[i:i+3], []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := transcripts.Read(bytes.NewReader(body), func(in trackskills.Input) error {
			if in.ToolName == "" || in.Source != trackskills.SourceImport {
				t.Fatalf("event without a name or its source: %+v", in)
			}
			return nil
		})
		if err != nil || st.Malformed > st.Lines {
			t.Fatalf("stats %+v, err %v", st, err)
		}
	})
}
