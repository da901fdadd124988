package metrics

import (
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterDatabase registers the size of the SQLite file at path and of
// its WAL, and the free space of its file system, read at each scrape.
func (r *Registry) RegisterDatabase(path string) error {
	size := func(p string) func() float64 {
		return func() float64 {
			fi, err := os.Stat(p)
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		}
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(gaugeOpts(databaseBytes), size(path)),
		prometheus.NewGaugeFunc(gaugeOpts(databaseWALBytes), size(path+"-wal")),
	}
	// The directory, which exists before the database does.
	dir := filepath.Dir(path)
	if _, ok := freeBytes(dir); ok {
		cs = append(cs, prometheus.NewGaugeFunc(gaugeOpts(databaseFreeBytes), func() float64 {
			n, _ := freeBytes(dir) // 0 when it cannot tell any more
			return float64(n)
		}))
	}
	return r.register("database", cs...)
}

// RegisterLive registers the number of live dashboard clients, read from
// clients at each scrape.
func (r *Registry) RegisterLive(clients func() int) error {
	return r.register("analytics", prometheus.NewGaugeFunc(gaugeOpts(liveClients), func() float64 {
		return float64(clients())
	}))
}
