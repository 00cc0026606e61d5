package bolt

// Queued returns how many Update calls wait for the next group commit.
func (d *DB) Queued() int { return d.group.queued() }
