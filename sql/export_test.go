package sql

// HashKey is hashKey, for tests that read the stored form.
var HashKey = hashKey
