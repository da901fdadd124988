package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"
)

// valuesLog2 sets the most rows one statement of a valuesStmt carries:
// 1<<valuesLog2. Each row costs the parse of its placeholders once, at
// prepare time, and nothing per batch; 64 rows of 16 values stay far
// below SQLite's limit of bound parameters.
const valuesLog2 = 6

// valuesStmt is an INSERT whose rows are bound parameters of a VALUES list,
// prepared for 1, 2, 4, ... 1<<valuesLog2 rows: the rows of a batch go in
// full statements of the largest size, then at most one statement of each
// smaller size (each).
type valuesStmt struct {
	cols  int           // values a row
	sizes []*dbsql.Stmt // sizes[i] takes 1<<i rows
}

// prepareValues prepares head, then n copies of row separated by commas,
// then tail, for each size n. row is the row's VALUES tuple with one ?
// per value, such as "(?, ?, unhex(?))"; cols is how many.
func prepareValues(ctx context.Context, db *dbsql.DB, cols int, head, row, tail string) (*valuesStmt, error) {
	if strings.Count(row, "?") != cols {
		return nil, fmt.Errorf("prepare values: row %q has not %d values", row, cols)
	}
	v := &valuesStmt{cols: cols}
	var sb strings.Builder
	for i := 0; i <= valuesLog2; i++ {
		sb.Reset()
		sb.WriteString(head)
		for r := range 1 << i {
			if r > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(row)
		}
		sb.WriteString(tail)
		st, err := db.PrepareContext(ctx, sb.String())
		if err != nil {
			_ = v.close() // the prepare error is the one to report
			return nil, err
		}
		v.sizes = append(v.sizes, st)
	}
	return v, nil
}

// each calls fn for the statements that together take rows rows, in
// order, with the index of the first row of each and its count.
func (v *valuesStmt) each(rows int, fn func(st *dbsql.Stmt, from, n int) error) error {
	from := 0
	for i := len(v.sizes) - 1; i >= 0; i-- {
		size := 1 << i
		for rows-from >= size {
			if err := fn(v.sizes[i], from, size); err != nil {
				return err
			}
			from += size
			if i < len(v.sizes)-1 {
				break // a smaller size is needed at most once
			}
		}
	}
	return nil
}

// close closes every size prepared.
func (v *valuesStmt) close() error {
	var first error
	for _, st := range v.sizes {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
