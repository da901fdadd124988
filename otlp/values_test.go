package otlp

import (
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// Claude Code sends the same attribute as a string in one version and as
// a number in another: every kind of value reads as text, a number and a
// truth value where it can.
func TestAttrs_EveryKind(t *testing.T) {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	num := func(n int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
	}
	dbl := func(f float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
	}
	bin := func(b bool) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
	}
	byt := &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xab, 0x01}}}
	arr := &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{num(1), str("a")}}}}
	kvl := &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
		Values: []*commonpb.KeyValue{{Key: "k", Value: bin(true)}}}}}
	for _, tc := range []struct {
		name      string
		v         *commonpb.AnyValue
		text      string
		count     int64
		isCount   bool
		truth     bool
		isTruth   bool
		wantFloat float64
	}{
		{"string number", str(" 52 "), "52", 52, true, false, false, 52},
		{"string fraction", str("310.6"), "310.6", 311, true, false, false, 310.6},
		{"string true", str("true"), "true", 0, false, true, true, 0},
		{"string false", str("False"), "False", 0, false, false, true, 0},
		{"int", num(1200), "1200", 1200, true, true, true, 1200},
		{"int zero", num(0), "0", 0, true, false, true, 0},
		{"negative int", num(-5), "-5", 0, false, true, true, -5},
		{"double", dbl(0.0123), "0.0123", 0, true, true, true, 0.0123},
		{"bool", bin(true), "true", 0, false, true, true, 0},
		{"bytes", byt, "ab01", 0, false, false, false, 0},
		{"array", arr, "", 0, false, false, false, 0},
		{"kvlist", kvl, "", 0, false, false, false, 0},
		{"empty", &commonpb.AnyValue{}, "", 0, false, false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := attrs{own: map[string]*commonpb.AnyValue{"k": tc.v}}
			if got := a.str("k"); got != tc.text {
				t.Errorf("text %q, want %q", got, tc.text)
			}
			if n, ok := a.count("k"); n != tc.count || ok != tc.isCount {
				t.Errorf("count %d %v, want %d %v", n, ok, tc.count, tc.isCount)
			}
			if f, ok := a.float("k"); ok && f != tc.wantFloat {
				t.Errorf("float %v, want %v", f, tc.wantFloat)
			}
			if b, ok := a.boolean("k"); b != tc.truth || ok != tc.isTruth {
				t.Errorf("boolean %v %v, want %v %v", b, ok, tc.truth, tc.isTruth)
			}
		})
	}
}
