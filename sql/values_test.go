package sql

import (
	dbsql "database/sql"
	"slices"
	"testing"
)

// TestValuesStmt_Each: the rows of any count go in full statements of the
// largest size, then at most one of each smaller size, in order.
func TestValuesStmt_Each(t *testing.T) {
	v := &valuesStmt{cols: 1, sizes: make([]*dbsql.Stmt, valuesLog2+1)}
	for _, tc := range []struct {
		rows int
		want []int
	}{
		{0, nil},
		{1, []int{1}},
		{3, []int{2, 1}},
		{63, []int{32, 16, 8, 4, 2, 1}},
		{64, []int{64}},
		{65, []int{64, 1}},
		{200, []int{64, 64, 64, 8}},
	} {
		var got []int
		next := 0
		err := v.each(tc.rows, func(_ *dbsql.Stmt, from, n int) error {
			if from != next {
				t.Errorf("rows=%d: a statement from row %d, want %d", tc.rows, from, next)
			}
			next = from + n
			got = append(got, n)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("rows=%d: statements of %v rows, want %v", tc.rows, got, tc.want)
		}
	}
}
