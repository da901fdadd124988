//go:build !unix

package metrics

// freeBytes cannot tell the free space here: the gauge is left out.
func freeBytes(string) (uint64, bool) { return 0, false }
