package ingest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
)

// batchAnswer is the answer to a batch request but its event ids, which
// are new on every request.
type batchAnswer struct {
	Code     int               `json:"-"`
	Error    string            `json:"error"`
	Field    string            `json:"field"`
	Accepted int               `json:"accepted"`
	Rejected []ingest.Rejected `json:"rejected"`
}

// wantBatch is the answer the ingest API owes a batch body
// (docs/CONTRACT.md, Ingest API), worked out the plain way: encoding/json
// validates and splits the whole array first, then DecodeInput and
// Validate judge each event.
func wantBatch(body []byte, ndjson bool, now time.Time) batchAnswer {
	fail := func(code int, msg string) batchAnswer { return batchAnswer{Code: code, Error: msg} }
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return fail(http.StatusBadRequest, "batch is empty: send a JSON array of events")
	}
	var raws [][]byte
	if !ndjson || body[0] == '[' {
		if body[0] != '[' {
			return fail(http.StatusBadRequest, "batch must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)")
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return fail(http.StatusBadRequest, "batch is not a valid JSON array: "+err.Error())
		}
		if len(arr) == 0 {
			return fail(http.StatusBadRequest, "batch is empty: send at least one event")
		}
		for _, raw := range arr {
			raws = append(raws, raw)
		}
	} else {
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				raws = append(raws, line)
			}
			if len(raws) > ingest.MaxBatchEvents {
				break
			}
		}
	}
	if len(raws) > ingest.MaxBatchEvents {
		return fail(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("batch has %d events; the limit is %d a request", len(raws), ingest.MaxBatchEvents))
	}
	a := batchAnswer{Code: http.StatusOK, Rejected: []ingest.Rejected{}}
	for i, raw := range raws {
		in, err := trackskills.DecodeInput(raw)
		if err == nil {
			_, err = in.Validate(now)
		}
		if err != nil {
			var fe *trackskills.FieldError
			if !errors.As(err, &fe) {
				panic(fmt.Sprintf("DecodeInput or Validate: %v is no *FieldError", err))
			}
			a.Rejected = append(a.Rejected, ingest.Rejected{Index: i, Error: fe.Message, Field: fe.Field})
			continue
		}
		a.Accepted++
	}
	if a.Accepted == 0 {
		a.Code, a.Error = http.StatusBadRequest, "no valid event in the batch; see rejected"
	}
	return a
}

// batchEvents counts the events of a batch body the way the ingest API
// reads it (docs/CONTRACT.md, Ingest API): a JSON array, or (for NDJSON)
// one event a non-blank line. ok is false when the body is not a batch at
// all.
func batchEvents(body []byte, ndjson bool) (n int, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, false
	}
	if !ndjson || body[0] == '[' {
		var raws []json.RawMessage
		if body[0] != '[' || json.Unmarshal(body, &raws) != nil {
			return 0, false
		}
		return len(raws), len(raws) > 0
	}
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n, true
}

// FuzzBatch posts arbitrary bodies as a JSON array and as NDJSON and checks
// that the answer is always JSON, never a 5xx but 503, and that a 200
// accounts for every event of the batch.
func FuzzBatch(f *testing.F) {
	srv, _ := MustServer(f, testConfig())
	h := srv.Handler()

	f.Add([]byte(`[{"tool_name":"a","status":"success"},{"tool_name":"b","status":"nope"}]`))
	f.Add([]byte("{\"tool_name\":\"a\",\"status\":\"error\",\"duration_ms\":5}\n\n{\"status\":\"success\"}\r\n"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[null, 1, "x", [], {}]`))
	f.Add([]byte("[\u0085{\"tool_name\":\"a\"}]"))
	f.Add([]byte(`[{"tool_name":"a","status":"success"}, 1x, {"a":[1,]}]`))
	f.Add([]byte(`[{"tool_name":"a\"]","status":"success"} , "s\\" ,true,{"status":"success"}]`))
	f.Add([]byte(`[{"tool_name":"m","status":"success","metadata":"{\"k\":[1,{\"z\":null}]}","timestamp":"2020-01-01T00:00:00Z"}]`))

	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/json", "application/x-ndjson"} {
			r := httptest.NewRequest(http.MethodPost, "/api/track/batch", bytes.NewReader(body))
			r.Header.Set("Content-Type", ct)
			w := serve(h, r)

			if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
				t.Fatalf("%s: status %d; body %s", ct, w.Code, w.Body)
			}
			// Ensure the answer is the one the plain reading of the body
			// gives, to the status, the message and each rejected event.
			if w.Code != http.StatusServiceUnavailable {
				got := batchAnswer{Code: w.Code}
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("%s: decode %s: %v", ct, w.Body, err)
				}
				if want := wantBatch(body, ct == "application/x-ndjson", time.Now()); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: body %q answered %+v, want %+v", ct, body, got, want)
				}
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: status %d with a body that is not JSON: %q", ct, w.Code, w.Body)
			}
			ndjson := ct == "application/x-ndjson"
			n, isBatch := batchEvents(body, ndjson)
			if w.Code != http.StatusOK {
				switch w.Code {
				case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
				default:
					t.Fatalf("%s: status %d; body %s", ct, w.Code, w.Body)
				}
				if n > ingest.MaxBatchEvents && w.Code != http.StatusRequestEntityTooLarge {
					t.Fatalf("%s: status %d for %d events, want 413", ct, w.Code, n)
				}
				// A well-formed batch refused as a whole has every event
				// rejected, each with its reason.
				if w.Code == http.StatusBadRequest && isBatch && n <= ingest.MaxBatchEvents {
					var resp batchResp
					if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
						t.Fatalf("%s: decode %s: %v", ct, w.Body, err)
					}
					if resp.Success || resp.Accepted != 0 || len(resp.Rejected) != n {
						t.Fatalf("%s: 400 for %d events with %s", ct, n, w.Body)
					}
				}
				continue
			}
			if !isBatch {
				t.Fatalf("%s: 200 for a body that is not a batch: %q", ct, body)
			}
			var resp batchResp
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("%s: decode %s: %v", ct, w.Body, err)
			}
			if !resp.Success || resp.Accepted < 1 {
				t.Fatalf("%s: 200 with %s", ct, w.Body)
			}
			if got := resp.Accepted + len(resp.Rejected); got != n {
				t.Fatalf("%s: accepted %d + rejected %d = %d, want the %d events sent; body %s",
					ct, resp.Accepted, len(resp.Rejected), got, n, w.Body)
			}
			if len(resp.EventIDs) != resp.Accepted {
				t.Fatalf("%s: %d event_ids for %d accepted", ct, len(resp.EventIDs), resp.Accepted)
			}
			prev := -1
			for _, rej := range resp.Rejected {
				if rej.Index <= prev || rej.Index >= n || rej.Error == "" {
					t.Fatalf("%s: bad rejected entry %+v after index %d of %d", ct, rej, prev, n)
				}
				prev = rej.Index
			}
		}
	})
}
