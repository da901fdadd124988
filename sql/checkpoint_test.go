package sql_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// TestDB_BackgroundCheckpoint shows that a commit reaches the database file
// itself without an explicit checkpoint, and long before the writer's own
// automatic one (backstopPages) would copy it: the background checkpoint
// does. After Close the log holds nothing the file lacks.
func TestDB_BackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	for i, tool := range []string{"ckpt_first_tool", "ckpt_second_tool"} {
		ev := newEvent(fmt.Sprintf("ckpt-%d", i))
		ev.ToolName = tool
		if _, err := db.WriteBatch(ctx, []trackskills.Event{ev}, nil); err != nil {
			t.Fatalf("write batch: %v", err)
		}
		// A few pages in the log: far below the automatic checkpoint.
		testkit.Eventually(t, 10*time.Second, func() error {
			b, err := os.ReadFile(db.Path())
			if err != nil {
				return err
			}
			if !bytes.Contains(b, []byte(tool)) {
				return fmt.Errorf("the database file does not hold %s yet", tool)
			}
			return nil
		})
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint beside the background one: %v", err)
	}
}
