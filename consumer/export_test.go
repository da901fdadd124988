package consumer

// SetAfterCommit installs a hook that runs between commit and ack; an error
// from it stops the consumer without acknowledging the batch.
func SetAfterCommit(c *Consumer, fn func() error) { c.afterCommit = fn }
