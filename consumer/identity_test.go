package consumer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure an event published straight to the stream, past ingest, whose
// identity fields are not hashes (a raw user id, say) is dead-lettered
// with a reason that says so, and its batch's good events are stored.
func TestConsumer_UnhashedIdentity(t *testing.T) {
	for _, tc := range []struct {
		name        string
		user, sess  string
		wantInField string
	}{
		{"RawUserID", "alice@example.com", "", "user_hash"},
		{"UpperHex", "0123456789ABCDEF0123456789ABCDEF", "", "user_hash"},
		{"ShortHex", "0123456789abcdef", "", "user_hash"},
		{"NoUser", "", "", "user_hash"},
		{"RawSessionID", "0123456789abcdef0123456789abcdef", "session-42", "session_hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := testkit.MustRunStream(t)
			db := testkit.MustOpenDB(t)
			good := makeEvents(2, "good")
			bad := makeEvents(1, "bad")
			bad[0].UserHash, bad[0].SessionHash = tc.user, tc.sess
			publish(t, js, good[0])
			publish(t, js, bad...)
			publish(t, js, good[1])
			_, stop := runConsumer(t, testConfig(), js, db)
			testkit.Eventually(t, patience, func() error { return settled(t, js, testDurable) })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, db, good)
			dls, err := db.ListDeadLetters(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(dls) != 1 {
				t.Fatalf("%d dead letters, want 1", len(dls))
			}
			if r := dls[0].Reason; !strings.Contains(r, tc.wantInField+" is not a hash") || !strings.Contains(r, "past ingest") {
				t.Fatalf("reason %q, want it to name %s as not a hash", r, tc.wantInField)
			}
		})
	}
}
