package otlp

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// attrs are the attributes of one record: its own, then its resource's.
// Claude Code puts the identity and the event's fields on the record and
// the service on the resource, but nothing relies on which. The
// resource's map is shared by its records, never copied: a record costs
// what its own attributes hold.
type attrs struct {
	own, base map[string]*commonpb.AnyValue
}

// index maps kvs by key; nil for none.
func index(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		if kv != nil && kv.Key != "" && kv.Value != nil {
			m[kv.Key] = kv.Value
		}
	}
	return m
}

// get is the value of key, the record's own first.
func (a attrs) get(key string) *commonpb.AnyValue {
	if v, ok := a.own[key]; ok {
		return v
	}
	return a.base[key]
}

// str is the attribute key as text, whatever its scalar kind: Claude Code
// sends the same attribute as a string in one version and a number in
// another. Bytes are hex; an array or a list of key-values is no name or
// id, and reads "".
func (a attrs) str(key string) string {
	return strings.TrimSpace(text(a.get(key)))
}

// first is the first of keys that is set and not blank.
func (a attrs) first(keys ...string) string {
	for _, k := range keys {
		if v := a.str(k); v != "" {
			return v
		}
	}
	return ""
}

func text(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'f', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		if len(x.BytesValue) > maxBytesValue {
			return ""
		}
		return hex.EncodeToString(x.BytesValue)
	}
	return ""
}

// maxBytesValue bounds the bytes value read as hex text.
const maxBytesValue = 1 << 10

// plainDepth bounds how deep plain reads nested values.
const plainDepth = 4

// plain is v as plain Go values, for JSON: its scalars, and arrays and
// lists of key-values down to depth levels.
func plain(v *commonpb.AnyValue, depth int) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_ArrayValue:
		if depth == 0 {
			return nil
		}
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, plain(e, depth-1))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		if depth == 0 {
			return nil
		}
		out := map[string]any{}
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = plain(kv.GetValue(), depth-1)
		}
		return out
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	}
	return text(v)
}

// float is the attribute key as a number: an int, a double, or a string
// that holds one. ok is false for anything else, and for NaN or infinity.
func (a attrs) float(key string) (float64, bool) {
	var f float64
	switch x := a.get(key).GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		f = float64(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		f = x.DoubleValue
	case *commonpb.AnyValue_StringValue:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x.StringValue), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// count is the attribute key as a whole number of at least 0, rounded.
func (a attrs) count(key string) (int64, bool) {
	f, ok := a.float(key)
	if !ok || f < 0 || f > math.MaxInt64/2 {
		return 0, false
	}
	return int64(f + 0.5), true
}

// boolean is the attribute key as a truth value: a bool, the strings
// "true" and "false" (as Claude Code sends success), or a number (0 is
// false). ok is false when it is absent or anything else.
func (a attrs) boolean(key string) (value, ok bool) {
	switch x := a.get(key).GetValue().(type) {
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue, true
	case *commonpb.AnyValue_IntValue:
		return x.IntValue != 0, true
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue != 0, true
	case *commonpb.AnyValue_StringValue:
		switch strings.ToLower(strings.TrimSpace(x.StringValue)) {
		case "true", "1", "yes":
			return true, true
		case "false", "0", "no":
			return false, true
		}
	}
	return false, false
}
