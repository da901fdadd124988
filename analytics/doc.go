// Package analytics will serve the read-only analytics API over the
// aggregate tables (SPEC §8): the seed's /analytics/summary, /tools,
// /retention and /errors, and the endpoints the analytics issue adds. It
// reads SQLite through package sql only and never writes.
package analytics
