//go:build unix

package metrics

import "syscall"

// freeBytes returns the space available to the process on the file system
// of path, and whether it could tell.
func freeBytes(path string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true //nolint:unconvert // the field types differ between systems
}
