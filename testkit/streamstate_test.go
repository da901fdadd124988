package testkit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure MustStreamState follows the events stream as messages arrive, and
// that MustEventsStream gives the stream to read them back.
func TestMustStreamState(t *testing.T) {
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	if got := testkit.MustStreamState(t, js); got.Msgs != 0 || got.LastSeq != 0 {
		t.Fatalf("state of a new stream %+v, want no message", got)
	}
	for range 3 {
		if _, err := js.Publish(ctx, trackskills.SubjectIngest, []byte("{}")); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	got := testkit.MustStreamState(t, js)
	if got.Msgs != 3 || got.FirstSeq != 1 || got.LastSeq != 3 || got.Bytes == 0 {
		t.Fatalf("state %+v, want messages 1 to 3", got)
	}
	st := testkit.MustEventsStream(t, js)
	if got := st.CachedInfo().Config.Name; got != trackskills.StreamName {
		t.Errorf("stream %q, want %q", got, trackskills.StreamName)
	}
	m, err := st.GetMsg(ctx, 3)
	if err != nil {
		t.Fatalf("get message 3: %v", err)
	}
	if got := string(m.Data); got != "{}" {
		t.Errorf("message 3 holds %q, want {}", got)
	}
	if _, err := st.GetMsg(ctx, 4); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("get message 4: err=%v, want %v", err, jetstream.ErrMsgNotFound)
	}
}
