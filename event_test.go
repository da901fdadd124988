package trackskills_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trackskills/trackskills"
)

// now is the fixed clock of the validation tests.
var now = time.Date(2026, 2, 9, 21, 30, 0, 0, time.UTC)

// input returns a valid Input (tool_name and status only) changed by mod.
func input(mod func(in *trackskills.Input)) trackskills.Input {
	in := trackskills.Input{ToolName: "my_skill", Status: trackskills.StatusSuccess}
	if mod != nil {
		mod(&in)
	}
	return in
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// quoted returns s as a JSON string.
func quoted(s string) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}

// metadataOf returns a compact JSON object of exactly n bytes.
func metadataOf(n int) string {
	const frame = `{"a":""}`
	return `{"a":"` + strings.Repeat("m", n-len(frame)) + `"}`
}

// assertFieldError fails unless err is a *FieldError about field that
// matches ErrInvalid.
func assertFieldError(tb testing.TB, err error, field string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err=nil, want a FieldError on %q", field)
	}
	var fe *trackskills.FieldError
	if !errors.As(err, &fe) {
		tb.Fatalf("err=%v (%T), want *trackskills.FieldError", err, err)
	}
	if got, want := fe.Field, field; got != want {
		tb.Fatalf("field=%q, want %q (err: %v)", got, want, err)
	}
	if !errors.Is(err, trackskills.ErrInvalid) {
		tb.Fatalf("errors.Is(%v, ErrInvalid)=false, want true", err)
	}
	if fe.Message == "" {
		tb.Fatal("FieldError has no message")
	}
}

func TestInput_Validate(t *testing.T) {
	type check func(t *testing.T, ev trackskills.Event)
	intIs := func(field string, get func(trackskills.Event) *int64, want *int64) check {
		return func(t *testing.T, ev trackskills.Event) {
			got := get(ev)
			switch {
			case got == nil && want == nil:
			case got == nil || want == nil:
				t.Fatalf("%s=%v, want %v", field, got, want)
			case *got != *want:
				t.Fatalf("%s=%d, want %d", field, *got, *want)
			}
		}
	}
	duration := func(want *int64) check {
		return intIs("duration_ms", func(ev trackskills.Event) *int64 { return ev.DurationMs }, want)
	}
	requestSize := func(want *int64) check {
		return intIs("request_size_bytes", func(ev trackskills.Event) *int64 { return ev.RequestSizeBytes }, want)
	}
	responseSize := func(want *int64) check {
		return intIs("response_size_bytes", func(ev trackskills.Event) *int64 { return ev.ResponseSizeBytes }, want)
	}
	metadata := func(want string) check {
		return func(t *testing.T, ev trackskills.Event) {
			if got := string(ev.Metadata); got != want {
				t.Fatalf("metadata=%q, want %q", got, want)
			}
			if want == "" && ev.Metadata != nil {
				t.Fatalf("metadata=%q, want nil", ev.Metadata)
			}
		}
	}
	timestamp := func(want time.Time) check {
		return func(t *testing.T, ev trackskills.Event) {
			if got, want := ev.Timestamp, want.UnixMilli(); got != want {
				t.Fatalf("timestamp=%d (%s), want %d", got, time.UnixMilli(got).UTC(), want)
			}
		}
	}
	n := func(v int64) *int64 { return &v }
	long3000 := strings.Repeat("e", 3000)
	multi3000 := strings.Repeat("€", 1000) // 3 bytes each

	type test struct {
		name   string
		in     trackskills.Input
		field  string // the field of the expected error; "" when valid
		errHas string // a part of the expected error message
		check  check  // run on the event when valid
	}
	tests := []test{
		// tool_name
		{name: "ToolNameOK", in: input(nil), check: func(t *testing.T, ev trackskills.Event) {
			if got, want := ev.ToolName, "my_skill"; got != want {
				t.Fatalf("tool_name=%q, want %q", got, want)
			}
			if got, want := ev.ReceivedAt, now.UnixMilli(); got != want {
				t.Fatalf("received_at=%d, want %d", got, want)
			}
		}},
		{name: "ToolNameMissing", in: trackskills.Input{Status: "success"}, field: "tool_name"},
		{name: "ToolNameEmpty", in: input(func(in *trackskills.Input) { in.ToolName = "" }), field: "tool_name"},
		{name: "ToolName128", in: input(func(in *trackskills.Input) { in.ToolName = strings.Repeat("a", 128) })},
		{name: "ToolName129", in: input(func(in *trackskills.Input) { in.ToolName = strings.Repeat("a", 129) }), field: "tool_name"},
		{name: "ToolName128MultiByte", in: input(func(in *trackskills.Input) { in.ToolName = strings.Repeat("é", 128) }),
			check: func(t *testing.T, ev trackskills.Event) {
				if got, want := utf8.RuneCountInString(ev.ToolName), 128; got != want {
					t.Fatalf("tool_name has %d characters, want %d", got, want)
				}
			}},
		{name: "ToolName128Emoji", in: input(func(in *trackskills.Input) { in.ToolName = strings.Repeat("🚀", 128) })},
		{name: "ToolName129MultiByte", in: input(func(in *trackskills.Input) { in.ToolName = strings.Repeat("é", 129) }), field: "tool_name"},
		{name: "ToolNameNewline", in: input(func(in *trackskills.Input) { in.ToolName = "my\nskill" }), field: "tool_name"},
		{name: "ToolNameTab", in: input(func(in *trackskills.Input) { in.ToolName = "my\tskill" }), field: "tool_name"},
		{name: "ToolNameNUL", in: input(func(in *trackskills.Input) { in.ToolName = "my\x00skill" }), field: "tool_name"},
		{name: "ToolNameDEL", in: input(func(in *trackskills.Input) { in.ToolName = "my\x7fskill" }), field: "tool_name"},
		{name: "ToolNameNEL", in: input(func(in *trackskills.Input) { in.ToolName = "my\u0085skill" }), field: "tool_name"},
		{name: "ToolNameSpacesAndUnicode", in: input(func(in *trackskills.Input) { in.ToolName = "mcp__github: create PR ✓" })},

		// tool_category
		{name: "CategoryDefault", in: input(nil), check: func(t *testing.T, ev trackskills.Event) {
			if got, want := ev.ToolCategory, trackskills.DefaultCategory; got != want {
				t.Fatalf("tool_category=%q, want %q", got, want)
			}
		}},
		{name: "CategorySet", in: input(func(in *trackskills.Input) { in.ToolCategory = "mcp" }), check: func(t *testing.T, ev trackskills.Event) {
			if got, want := ev.ToolCategory, "mcp"; got != want {
				t.Fatalf("tool_category=%q, want %q", got, want)
			}
		}},
		{name: "Category64", in: input(func(in *trackskills.Input) { in.ToolCategory = strings.Repeat("c", 64) })},
		{name: "Category65", in: input(func(in *trackskills.Input) { in.ToolCategory = strings.Repeat("c", 65) }), field: "tool_category"},
		{name: "CategoryControl", in: input(func(in *trackskills.Input) { in.ToolCategory = "a\x1bb" }), field: "tool_category"},

		// status
		{name: "StatusMissing", in: trackskills.Input{ToolName: "my_skill"}, field: "status"},
		{name: "StatusWrong", in: input(func(in *trackskills.Input) { in.Status = "ok" }), field: "status"},
		{name: "StatusWrongCase", in: input(func(in *trackskills.Input) { in.Status = "Success" }), field: "status"},
		{name: "StatusSuccess", in: input(func(in *trackskills.Input) { in.Status = "success" })},
		{name: "StatusError", in: input(func(in *trackskills.Input) { in.Status = "error" })},
		{name: "StatusTimeout", in: input(func(in *trackskills.Input) { in.Status = "timeout" })},

		// duration_ms
		{name: "DurationNegative", in: input(func(in *trackskills.Input) { in.DurationMs = raw("-1") }), field: "duration_ms"},
		{name: "DurationNegativeFraction", in: input(func(in *trackskills.Input) { in.DurationMs = raw("-0.6") }), field: "duration_ms"},
		{name: "DurationMax", in: input(func(in *trackskills.Input) { in.DurationMs = raw("86400000") }), check: duration(n(86_400_000))},
		{name: "DurationTooLarge", in: input(func(in *trackskills.Input) { in.DurationMs = raw("86400001") }), field: "duration_ms"},
		{name: "DurationRoundsTooLarge", in: input(func(in *trackskills.Input) { in.DurationMs = raw("86400000.6") }), field: "duration_ms"},
		{name: "DurationString", in: input(func(in *trackskills.Input) { in.DurationMs = raw(`"150"`) }), field: "duration_ms"},
		{name: "DurationBool", in: input(func(in *trackskills.Input) { in.DurationMs = raw(`true`) }), field: "duration_ms"},
		{name: "DurationFractionRounded", in: input(func(in *trackskills.Input) { in.DurationMs = raw("12.7") }), check: duration(n(13))},
		{name: "DurationExponent", in: input(func(in *trackskills.Input) { in.DurationMs = raw("1.5e3") }), check: duration(n(1500))},
		{name: "DurationNull", in: input(func(in *trackskills.Input) { in.DurationMs = raw("null") }), check: duration(nil)},
		{name: "DurationAbsent", in: input(nil), check: duration(nil)},
		{name: "DurationZero", in: input(func(in *trackskills.Input) { in.DurationMs = raw("0") }), check: duration(n(0))},

		// error_type
		{name: "ErrorType64", in: input(func(in *trackskills.Input) { in.ErrorType = strings.Repeat("t", 64) })},
		{name: "ErrorType65", in: input(func(in *trackskills.Input) { in.ErrorType = strings.Repeat("t", 65) }), field: "error_type"},

		// error_message
		{name: "ErrorMessageKept", in: input(func(in *trackskills.Input) { in.ErrorMessage = "boom\nat line 3" }),
			check: func(t *testing.T, ev trackskills.Event) {
				if got, want := ev.ErrorMessage, "boom\nat line 3"; got != want {
					t.Fatalf("error_message=%q, want %q", got, want)
				}
			}},
		{name: "ErrorMessage2048Kept", in: input(func(in *trackskills.Input) { in.ErrorMessage = long3000[:2048] }),
			check: func(t *testing.T, ev trackskills.Event) {
				if got, want := ev.ErrorMessage, long3000[:2048]; got != want {
					t.Fatalf("error_message of %d bytes, want the 2048 sent", len(got))
				}
			}},
		{name: "ErrorMessageCut", in: input(func(in *trackskills.Input) { in.ErrorMessage = long3000 }),
			check: func(t *testing.T, ev trackskills.Event) {
				msg := ev.ErrorMessage
				if len(msg) > trackskills.MaxErrorMessage {
					t.Fatalf("error_message is %d bytes, want <= %d", len(msg), trackskills.MaxErrorMessage)
				}
				if !strings.HasSuffix(msg, trackskills.CutMarker) {
					t.Fatalf("error_message ends %q, want the cut marker %q", msg[len(msg)-20:], trackskills.CutMarker)
				}
				if kept := strings.TrimSuffix(msg, trackskills.CutMarker); !strings.HasPrefix(long3000, kept) || len(kept) < 2000 {
					t.Fatalf("error_message keeps %d bytes of the original, want its first ~2 KiB", len(kept))
				}
			}},
		{name: "ErrorMessageCutMultiByte", in: input(func(in *trackskills.Input) { in.ErrorMessage = multi3000 }),
			check: func(t *testing.T, ev trackskills.Event) {
				msg := ev.ErrorMessage
				if len(msg) > trackskills.MaxErrorMessage {
					t.Fatalf("error_message is %d bytes, want <= %d", len(msg), trackskills.MaxErrorMessage)
				}
				if !utf8.ValidString(msg) {
					t.Fatal("error_message was cut inside a character: not valid UTF-8")
				}
				kept := strings.TrimSuffix(msg, trackskills.CutMarker)
				if kept == msg {
					t.Fatal("error_message was not marked as cut")
				}
				if strings.Trim(kept, "€") != "" || !strings.HasPrefix(multi3000, kept) {
					t.Fatalf("error_message kept %q..., want only whole € signs", kept[:12])
				}
			}},

		// metadata
		{name: "MetadataObject", in: input(func(in *trackskills.Input) { in.Metadata = raw(`{ "a": 1, "b": [true, null], "c": {"d": "e"} }`) }),
			check: metadata(`{"a":1,"b":[true,null],"c":{"d":"e"}}`)},
		{name: "MetadataStringObject", in: input(func(in *trackskills.Input) { in.Metadata = raw(`"{\"a\":1}"`) }), check: metadata(`{"a":1}`)},
		{name: "MetadataStringObjectSpaces", in: input(func(in *trackskills.Input) { in.Metadata = quoted(" {\"model\": \"claude\", \"n\": 2}\n") }),
			check: metadata(`{"model":"claude","n":2}`)},
		{name: "MetadataArray", in: input(func(in *trackskills.Input) { in.Metadata = raw(`[1,2]`) }), field: "metadata"},
		{name: "MetadataNumber", in: input(func(in *trackskills.Input) { in.Metadata = raw(`42`) }), field: "metadata"},
		{name: "MetadataBool", in: input(func(in *trackskills.Input) { in.Metadata = raw(`true`) }), field: "metadata"},
		{name: "MetadataStringArray", in: input(func(in *trackskills.Input) { in.Metadata = raw(`"[1,2]"`) }), field: "metadata"},
		{name: "MetadataStringString", in: input(func(in *trackskills.Input) { in.Metadata = raw(`"\"nested\""`) }), field: "metadata"},
		{name: "MetadataStringInvalidJSON", in: input(func(in *trackskills.Input) { in.Metadata = raw(`"{not json"`) }), field: "metadata"},
		{name: "MetadataStringPlainText", in: input(func(in *trackskills.Input) { in.Metadata = raw(`"hello"`) }), field: "metadata"},
		{name: "Metadata8192", in: input(func(in *trackskills.Input) { in.Metadata = raw(metadataOf(8192)) }), check: metadata(metadataOf(8192))},
		{name: "MetadataTooLarge", in: input(func(in *trackskills.Input) { in.Metadata = raw(metadataOf(8193)) }), field: "metadata"},
		{name: "MetadataStringTooLarge", in: input(func(in *trackskills.Input) { in.Metadata = quoted(metadataOf(9000)) }), field: "metadata"},
		{name: "MetadataLargeBeforeCompact", in: input(func(in *trackskills.Input) {
			in.Metadata = raw(`{"a":` + strings.Repeat(" ", 9000) + `1}`)
		}), check: metadata(`{"a":1}`)},
		{name: "MetadataNull", in: input(func(in *trackskills.Input) { in.Metadata = raw(`null`) }), check: metadata("")},
		{name: "MetadataEmptyString", in: input(func(in *trackskills.Input) { in.Metadata = raw(`""`) }), check: metadata("")},
		{name: "MetadataBlankString", in: input(func(in *trackskills.Input) { in.Metadata = raw(`"  "`) }), check: metadata("")},
		{name: "MetadataAbsent", in: input(nil), check: metadata("")},
		{name: "MetadataInvalidUTF8", in: input(func(in *trackskills.Input) { in.Metadata = raw("{\"a\":\"x\xffy\"}") }),
			check: func(t *testing.T, ev trackskills.Event) {
				if !utf8.Valid(ev.Metadata) || !json.Valid(ev.Metadata) {
					t.Fatalf("metadata=%q, want valid UTF-8 JSON", ev.Metadata)
				}
			}},

		// request_size_bytes, response_size_bytes
		{name: "RequestSizeNegative", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("-1") }), field: "request_size_bytes"},
		{name: "RequestSizeFraction", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("1.5") }), field: "request_size_bytes"},
		{name: "RequestSizeString", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw(`"10"`) }), field: "request_size_bytes"},
		{name: "RequestSizeOK", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("1024") }), check: requestSize(n(1024))},
		{name: "RequestSizeZero", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("0") }), check: requestSize(n(0))},
		{name: "RequestSizeWholeFloat", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("2048.0") }), check: requestSize(n(2048))},
		{name: "RequestSizeMaxInt64", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("9223372036854775807") }), check: requestSize(n(1<<63 - 1))},
		{name: "RequestSizeBeyondInt64", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("9223372036854775808") }), field: "request_size_bytes",
			errHas: "not 9223372036854775808"},
		{name: "RequestSizeNull", in: input(func(in *trackskills.Input) { in.RequestSizeBytes = raw("null") }), check: requestSize(nil)},
		{name: "ResponseSizeNegative", in: input(func(in *trackskills.Input) { in.ResponseSizeBytes = raw("-5") }), field: "response_size_bytes"},
		{name: "ResponseSizeFraction", in: input(func(in *trackskills.Input) { in.ResponseSizeBytes = raw("0.25") }), field: "response_size_bytes"},
		{name: "ResponseSizeOK", in: input(func(in *trackskills.Input) { in.ResponseSizeBytes = raw("65536") }), check: responseSize(n(65536))},

		// event_id
		{name: "EventIDSpace", in: input(func(in *trackskills.Input) { in.EventID = "abc def" }), field: "event_id"},
		{name: "EventIDUnicode", in: input(func(in *trackskills.Input) { in.EventID = "abcé" }), field: "event_id"},
		{name: "EventID64", in: input(func(in *trackskills.Input) { in.EventID = strings.Repeat("A", 64) })},
		{name: "EventID65", in: input(func(in *trackskills.Input) { in.EventID = strings.Repeat("A", 65) }), field: "event_id"},
		{name: "EventIDEmpty", in: input(nil), check: func(t *testing.T, ev trackskills.Event) {
			if ev.EventID != "" {
				t.Fatalf("event_id=%q, want it left empty for the server", ev.EventID)
			}
		}},
		{name: "EventIDValid", in: input(func(in *trackskills.Input) { in.EventID = "01JKZ4W5Q2-retry_1" }), check: func(t *testing.T, ev trackskills.Event) {
			if got, want := ev.EventID, "01JKZ4W5Q2-retry_1"; got != want {
				t.Fatalf("event_id=%q, want %q", got, want)
			}
		}},

		// timestamp
		{name: "TimestampRFC3339", in: input(func(in *trackskills.Input) { in.Timestamp = raw(`"2026-02-09T20:15:30Z"`) }),
			check: timestamp(time.Date(2026, 2, 9, 20, 15, 30, 0, time.UTC))},
		{name: "TimestampRFC3339Offset", in: input(func(in *trackskills.Input) { in.Timestamp = raw(`"2026-02-09T22:15:30.250+02:00"`) }),
			check: timestamp(time.Date(2026, 2, 9, 20, 15, 30, 250e6, time.UTC))},
		{name: "TimestampUnixMs", in: input(func(in *trackskills.Input) { in.Timestamp = raw("1770668130123") }),
			check: timestamp(time.UnixMilli(1770668130123))},
		{name: "TimestampSQLite", in: input(func(in *trackskills.Input) { in.Timestamp = raw(`"2026-02-09 20:15:30"`) }),
			check: timestamp(time.Date(2026, 2, 9, 20, 15, 30, 0, time.UTC))},
		{name: "Timestamp7Days", in: input(func(in *trackskills.Input) { in.Timestamp = quoted(now.Add(-7 * 24 * time.Hour).Format(time.RFC3339)) }),
			check: timestamp(now.Add(-7 * 24 * time.Hour))},
		{name: "Timestamp8DaysAgo", in: input(func(in *trackskills.Input) { in.Timestamp = quoted(now.Add(-8 * 24 * time.Hour).Format(time.RFC3339)) }), field: "timestamp"},
		{name: "APIRequestMeta", in: input(func(in *trackskills.Input) {
			in.Kind, in.Metadata = trackskills.KindAPIRequest, raw(`{"model":"m","cost_usd_micros":12300,"input_tokens":5}`)
		}), check: func(t *testing.T, ev trackskills.Event) {}},
		{name: "APIRequestNegativeCost", in: input(func(in *trackskills.Input) {
			in.Kind, in.Metadata = trackskills.KindAPIRequest, raw(`{"cost_usd_micros":-1}`)
		}), field: "metadata"},
		{name: "APIRequestHugeTokens", in: input(func(in *trackskills.Input) {
			in.Kind, in.Metadata = trackskills.KindAPIRequest, raw(`{"output_tokens":9223372036854775807}`)
		}), field: "metadata"},
		{name: "APIRequestFractionalCost", in: input(func(in *trackskills.Input) {
			in.Kind, in.Metadata = trackskills.KindAPIRequest, raw(`{"cost_usd_micros":1.5}`)
		}), field: "metadata"},
		{name: "Timestamp8DaysAgoImported", in: input(func(in *trackskills.Input) {
			in.Timestamp, in.Source = quoted(now.Add(-8*24*time.Hour).Format(time.RFC3339)), trackskills.SourceImport
		}), check: timestamp(now.Add(-8 * 24 * time.Hour).Truncate(time.Second))},
		{name: "Timestamp366DaysAgoImported", in: input(func(in *trackskills.Input) {
			in.Timestamp, in.Source = quoted(now.Add(-366*24*time.Hour).Format(time.RFC3339)), trackskills.SourceImport
		}), field: "timestamp"},
		{name: "Timestamp8DaysAgoUnixMs", in: input(func(in *trackskills.Input) {
			in.Timestamp = raw(strconv.FormatInt(now.Add(-8*24*time.Hour).UnixMilli(), 10))
		}), field: "timestamp"},
		{name: "Timestamp4MinutesAhead", in: input(func(in *trackskills.Input) { in.Timestamp = quoted(now.Add(4 * time.Minute).Format(time.RFC3339)) }),
			check: timestamp(now.Add(4 * time.Minute))},
		{name: "Timestamp6MinutesAhead", in: input(func(in *trackskills.Input) { in.Timestamp = quoted(now.Add(6 * time.Minute).Format(time.RFC3339)) }), field: "timestamp"},
		{name: "TimestampAbsent", in: input(nil), check: timestamp(now)},
		{name: "TimestampNull", in: input(func(in *trackskills.Input) { in.Timestamp = raw("null") }), check: timestamp(now)},
		{name: "TimestampGarbage", in: input(func(in *trackskills.Input) { in.Timestamp = raw(`"yesterday"`) }), field: "timestamp"},
		{name: "TimestampUnixSeconds", in: input(func(in *trackskills.Input) { in.Timestamp = raw("1770668130") }), field: "timestamp"},
		{name: "TimestampHuge", in: input(func(in *trackskills.Input) { in.Timestamp = raw("1e300") }), field: "timestamp"},
		{name: "TimestampObject", in: input(func(in *trackskills.Input) { in.Timestamp = raw(`{}`) }), field: "timestamp"},

		// user_id, session_id
		{name: "UserID256", in: input(func(in *trackskills.Input) { in.UserID = strings.Repeat("ü", 256) })},
		{name: "UserID257", in: input(func(in *trackskills.Input) { in.UserID = strings.Repeat("u", 257) }), field: "user_id"},
		{name: "SessionID256", in: input(func(in *trackskills.Input) { in.SessionID = strings.Repeat("s", 256) })},
		{name: "SessionID257", in: input(func(in *trackskills.Input) { in.SessionID = strings.Repeat("s", 257) }), field: "session_id"},

		// source
		{name: "SourceUnknown", in: input(func(in *trackskills.Input) { in.Source = "curl" }), field: "source"},
		{name: "SourceWrongCase", in: input(func(in *trackskills.Input) { in.Source = "API" }), field: "source"},
		{name: "SourceAbsent", in: input(nil), check: func(t *testing.T, ev trackskills.Event) {
			if got, want := ev.Source, trackskills.DefaultSource; got != want {
				t.Fatalf("source=%q, want %q", got, want)
			}
		}},

		// kind, agent_id and the MCP split
		{name: "KindUnknown", in: input(func(in *trackskills.Input) { in.Kind = "tool" }), field: "kind", errHas: "session_start"},
		{name: "KindMark", in: input(func(in *trackskills.Input) { in.Kind, in.ToolName = trackskills.KindStop, "mcp__a__b" }), check: func(t *testing.T, ev trackskills.Event) {
			if ev.Kind != trackskills.KindStop || ev.MCPServer != "" {
				t.Fatalf("kind=%q mcp_server=%q, want stop and no server (a mark is no MCP call)", ev.Kind, ev.MCPServer)
			}
		}},
		{name: "AgentID257", in: input(func(in *trackskills.Input) { in.AgentID = strings.Repeat("a", 257) }), field: "agent_id"},
		{name: "MCPSplit", in: input(func(in *trackskills.Input) { in.ToolName = "mcp__plugin_acme_my__db__run_query" }), check: func(t *testing.T, ev trackskills.Event) {
			if ev.MCPServer != "plugin_acme_my__db" || ev.MCPTool != "run_query" {
				t.Fatalf("mcp server %q tool %q", ev.MCPServer, ev.MCPTool)
			}
		}},
		{name: "NotMCP", in: input(func(in *trackskills.Input) { in.ToolName = "mcpfoo" }), check: func(t *testing.T, ev trackskills.Event) {
			if ev.MCPServer != "" || ev.MCPTool != "" {
				t.Fatalf("mcp server %q tool %q, want none", ev.MCPServer, ev.MCPTool)
			}
		}},
	}
	for _, src := range trackskills.Sources {
		tests = append(tests, test{
			name: "Source_" + src,
			in:   input(func(in *trackskills.Input) { in.Source = src }),
			check: func(t *testing.T, ev trackskills.Event) {
				if got, want := ev.Source, src; got != want {
					t.Fatalf("source=%q, want %q", got, want)
				}
			},
		})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := tt.in.Validate(now)
			if tt.field != "" {
				assertFieldError(t, err, tt.field)
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err=%q, want it to contain %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		field *string // the field of the expected error; nil when valid
		check func(t *testing.T, in trackskills.Input)
	}{
		{name: "OK", body: `{"tool_name":"my_skill","status":"success","duration_ms":12}`,
			check: func(t *testing.T, in trackskills.Input) {
				if got, want := in.ToolName, "my_skill"; got != want {
					t.Fatalf("tool_name=%q, want %q", got, want)
				}
				if got, want := string(in.DurationMs), "12"; got != want {
					t.Fatalf("duration_ms=%q, want %q", got, want)
				}
			}},
		{name: "SurroundingSpace", body: " \n\t{\"tool_name\":\"x\",\"status\":\"error\"}\r\n "},
		{name: "NotJSON", body: `tool_name=x&status=success`, field: ptr("")},
		{name: "BrokenJSON", body: `{"tool_name":"x",`, field: ptr("")},
		{name: "UnquotedKeys", body: `{tool_name:"x"}`, field: ptr("")},
		{name: "TrailingData", body: `{"tool_name":"x","status":"success"} {}`, field: ptr("")},
		{name: "ArrayBody", body: `[{"tool_name":"x","status":"success"}]`, field: ptr("")},
		{name: "StringBody", body: `"x"`, field: ptr("")},
		{name: "NullBody", body: `null`, field: ptr("")},
		{name: "EmptyBody", body: ``, field: ptr("")},
		{name: "BlankBody", body: " \n\t ", field: ptr("")},
		{name: "ToolNameNumber", body: `{"tool_name":5,"status":"success"}`, field: ptr("tool_name")},
		{name: "StatusBool", body: `{"tool_name":"x","status":true}`, field: ptr("status")},
		{name: "UserIDObject", body: `{"tool_name":"x","status":"success","user_id":{"id":1}}`, field: ptr("user_id")},
		{name: "EventIDArray", body: `{"tool_name":"x","status":"success","event_id":["a"]}`, field: ptr("event_id")},
		{name: "UnknownFieldsIgnored", body: `{"tool_name":"x","status":"success","ip":"1.2.3.4","extra":{"deep":[1,{"a":null}]},"n":1e400}`,
			check: func(t *testing.T, in trackskills.Input) {
				if got, want := in.ToolName, "x"; got != want {
					t.Fatalf("tool_name=%q, want %q", got, want)
				}
			}},
		{name: "CaseInsensitiveNames", body: `{"Tool_Name":"x","STATUS":"timeout","Duration_MS":7,"MetaData":{"a":1},"Event_ID":"abc"}`,
			check: func(t *testing.T, in trackskills.Input) {
				if in.ToolName != "x" || in.Status != "timeout" || string(in.DurationMs) != "7" ||
					string(in.Metadata) != `{"a":1}` || in.EventID != "abc" {
					t.Fatalf("input=%+v, want the fields read whatever their case", in)
				}
			}},
		{name: "NullStrings", body: `{"tool_name":"x","status":"success","error_type":null,"user_id":null}`,
			check: func(t *testing.T, in trackskills.Input) {
				if in.ErrorType != "" || in.UserID != "" {
					t.Fatalf("input=%+v, want null strings empty", in)
				}
			}},
		{name: "InvalidUTF8Replaced", body: "{\"tool_name\":\"a\xffb\",\"status\":\"success\"}",
			check: func(t *testing.T, in trackskills.Input) {
				if got, want := in.ToolName, "a\uFFFDb"; got != want {
					t.Fatalf("tool_name=%q, want %q", got, want)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := trackskills.DecodeInput([]byte(tt.body))
			if tt.field != nil {
				assertFieldError(t, err, *tt.field)
				return
			}
			if err != nil {
				t.Fatalf("DecodeInput: %v", err)
			}
			if tt.check != nil {
				tt.check(t, in)
			}
		})
	}

	// Ensure a wrong JSON type names the type expected.
	t.Run("TypeErrorMessage", func(t *testing.T) {
		_, err := trackskills.DecodeInput([]byte(`{"tool_name":5}`))
		if got, want := err.Error(), "tool_name: must be a JSON string, not number"; got != want {
			t.Fatalf("err=%q, want %q", got, want)
		}
	})
}

func ptr(s string) *string { return &s }

// decodeInputStd is DecodeInput done by encoding/json alone, the reference
// of what DecodeInput accepts and how it fills the Input.
func decodeInputStd(data []byte) (trackskills.Input, error) {
	var in trackskills.Input
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return in, errors.New("not an object")
	}
	err := json.Unmarshal(data, &in)
	return in, err
}

// checkSameAsStd fails unless DecodeInput accepts data exactly when
// encoding/json does, with the same Input.
func checkSameAsStd(tb testing.TB, data []byte) {
	tb.Helper()
	got, err := trackskills.DecodeInput(data)
	want, stdErr := decodeInputStd(data)
	if (err == nil) != (stdErr == nil) {
		tb.Fatalf("DecodeInput(%q): err=%v, encoding/json err=%v", data, err, stdErr)
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("DecodeInput(%q)=%+v, encoding/json gives %+v", data, got, want)
	}
}

// Ensure the one-pass decoding matches encoding/json on the inputs it
// handles and on those it hands over: duplicates, null, case, unknown
// keys, escapes, bad UTF-8, numbers and nesting.
func TestDecodeInput_SameAsEncodingJSON(t *testing.T) {
	deep := strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200)
	tests := []struct{ name, body string }{
		{"Plain", `{"tool_name":"my_skill","status":"success"}`},
		{"Empty", `{}`},
		{"EmptySpaced", "{ \n\t}"},
		{"Every", `{"tool_name":"pdf","tool_category":"skills","status":"error","duration_ms":12.7,"error_type":"E","error_message":"boom","metadata":{"a":[1,2.5e-3,true,false,null,"x"]},"request_size_bytes":10,"response_size_bytes":0,"event_id":"01JKZ4W5Q2N8X7Y6V5T4S3R2Q1","timestamp":"2026-02-09T20:00:00Z","user_id":"u","session_id":"s","source":"hook","kind":"stop","agent_id":"ag1"}`},
		{"Spaces", " { \"tool_name\" : \"a\" , \"duration_ms\" :\r\n5 , \"metadata\" : { \"k\" : [ 1 , 2 ] } } "},
		{"DuplicateString", `{"tool_name":"a","tool_name":"b"}`},
		{"DuplicateThenNull", `{"tool_name":"a","tool_name":null}`},
		{"DuplicateRawThenNull", `{"duration_ms":5,"duration_ms":null}`},
		{"DuplicateFolded", `{"tool_name":"a","TOOL_NAME":"b"}`},
		{"FoldedFirst", `{"Tool_Name":"b","tool_name":"a"}`},
		{"EmptyString", `{"tool_name":"a","tool_name":""}`},
		{"UnknownNested", `{"x":{"y":[{"z":"\u00e9\n"}]},"tool_name":"a","n":-0.5E+10}`},
		{"UnknownHugeNumber", `{"n":1e400,"tool_name":"a"}`},
		{"EscapedValue", `{"tool_name":"a\nb","error_message":"say \"hi\""}`},
		{"EscapedKey", `{"tool\u005fname":"a"}`},
		{"KelvinKey", "{\"\u212a\":1,\"ſtatus\":\"success\"}"},
		{"NonASCIIKeyUnknown", `{"clé":1,"tool_name":"a"}`},
		{"UTF8Value", `{"tool_name":"é€😀"}`},
		{"InvalidUTF8Value", "{\"tool_name\":\"a\xffb\"}"},
		{"SurrogateUTF8Value", "{\"tool_name\":\"a\xed\xa0\x80b\"}"},
		{"InvalidUTF8Raw", "{\"metadata\":{\"a\":\"\xff\"}}"},
		{"ControlInString", "{\"tool_name\":\"a\tb\"}"},
		{"RawString", `{"metadata":"{\"a\":1}","timestamp":"2026-02-09T20:00:00Z"}`},
		{"RawLiterals", `{"duration_ms":true,"timestamp":false,"metadata":null,"request_size_bytes":[]}`},
		{"NumberForms", `{"duration_ms":-0,"timestamp":1.5e3,"request_size_bytes":0.0,"response_size_bytes":12E-1}`},
		{"DeepUnknown", `{"x":` + deep + `,"tool_name":"a"}`},
		{"TypeString", `{"tool_name":5}`},
		{"TypeBool", `{"status":true}`},
		{"TypeObject", `{"user_id":{}}`},
		{"TypeArray", `{"event_id":[]}`},
		{"TypeAfterGood", `{"tool_name":"a","source":1,"status":"success"}`},
		{"BadNumberLeadingZero", `{"duration_ms":01}`},
		{"BadNumberDot", `{"duration_ms":1.}`},
		{"BadNumberExp", `{"duration_ms":1e}`},
		{"BadNumberPlus", `{"duration_ms":+1}`},
		{"BadLiteral", `{"duration_ms":nul}`},
		{"NullPrefix", `{"tool_name":nullx}`},
		{"BadEscape", `{"x":"\q"}`},
		{"BadUnicodeEscape", `{"x":"\u12g4"}`},
		{"TrailingComma", `{"tool_name":"a",}`},
		{"TrailingCommaNested", `{"x":[1,],"tool_name":"a"}`},
		{"MissingColon", `{"tool_name" "a"}`},
		{"MissingComma", `{"tool_name":"a" "status":"b"}`},
		{"Unclosed", `{"tool_name":"a"`},
		{"UnclosedString", `{"tool_name":"a}`},
		{"TrailingData", `{"tool_name":"a"}x`},
		{"TrailingObject", `{"tool_name":"a"} {}`},
		{"UnicodeSpaceAround", "\u00a0{\"tool_name\":\"a\"}\u0085"},
		{"UnicodeSpaceInside", "{\u00a0\"tool_name\":\"a\"}"},
		{"NotObject", `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkSameAsStd(t, []byte(tt.body)) })
	}
}

// BenchmarkDecodeInput is the decoding of one realistic event, as each
// event of a batch is decoded.
func BenchmarkDecodeInput(b *testing.B) {
	data := []byte(`{"tool_name":"mcp__github__create_issue","tool_category":"mcp","status":"success","duration_ms":143,` +
		`"metadata":{"model":"claude-sonnet-4","project":"web"},"request_size_bytes":1832,"response_size_bytes":20411,` +
		`"event_id":"lg-000000012345","user_id":"user-0042","session_id":"sess-0042-07","source":"api"}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trackskills.DecodeInput(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIsIdentityHash(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", false},
		{"0123456789abcdef", false},
		{"alice@example.com", false},
		{"", false},
	} {
		if got := trackskills.IsIdentityHash(tc.in); got != tc.want {
			t.Errorf("IsIdentityHash(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
