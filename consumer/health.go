package consumer

import "fmt"

// recordWrite keeps the outcome of a batch write for WriteErr.
func (c *Consumer) recordWrite(err error) {
	if err == nil {
		if c.writeFailed.Load() != nil {
			c.writeFailed.Store(nil)
		}
		return
	}
	c.writeFailed.Store(&err)
}

// WriteErr returns why the consumer cannot write to SQLite while its last
// attempt to write a batch failed (a full disk, a locked file: it tries
// again by itself), or nil.
func (c *Consumer) WriteErr() error {
	if p := c.writeFailed.Load(); p != nil {
		return fmt.Errorf("cannot write: %w", *p)
	}
	return nil
}
