package fleet

import (
	"context"
	"fmt"
)

// fileCoordinator is the coordinator of a rollout with a status file and
// no other coordinator (see WithStatusFile): the shared state of a
// MemoryCoordinator, for its one controller, behind the claims log, so
// that every claim, mark and end is durable before the rollout goes on.
// Claims and results that come together share one fsync (the log's group
// commit). It records nothing a resume needs beyond what the log holds:
// the log is created afresh for each run, so Join returns no records (a
// resume carries them from the status file, see LoadReport).
type fileCoordinator struct {
	mem *MemoryCoordinator
	log *claimLog
}

// newFileCoordinator returns the coordinator of a run whose claims log
// (started, locked) is log.
func newFileCoordinator(log *claimLog) *fileCoordinator {
	return &fileCoordinator{mem: NewMemoryCoordinator(), log: log}
}

func (c *fileCoordinator) Join(ctx context.Context, p CoordPlan) ([]Record, error) {
	return c.mem.Join(ctx, p)
}

// Claim takes the target in memory, then makes the claim durable; when
// the log fails, the target is given back and the log's error returned.
func (c *fileCoordinator) Claim(ctx context.Context, rec Record) error {
	if err := c.mem.Claim(ctx, rec); err != nil {
		return err
	}
	err := c.log.append(claimEntry{Kind: entryClaim, Target: rec.ID, Phase: rec.Phase, At: rec.Start})
	if err != nil {
		c.mem.End(ctx, Record{ID: rec.ID, Outcome: Pending})
		return fmt.Errorf("claims log: %w", err)
	}
	return nil
}

func (c *fileCoordinator) Mark(ctx context.Context, id, phase string) error {
	if err := c.mem.Mark(ctx, id, phase); err != nil {
		return err
	}
	if err := c.log.append(claimEntry{Kind: entryPhase, Target: id, Phase: phase}); err != nil {
		return fmt.Errorf("claims log: %w", err)
	}
	return nil
}

// End makes the result durable, then frees the target's room; the room is
// freed even when the log fails (the rollout stops for that failure).
func (c *fileCoordinator) End(ctx context.Context, rec Record) error {
	e := claimEntry{Kind: entryEnd, Target: rec.ID, Outcome: rec.Outcome, Error: rec.Error}
	if rec.Outcome != Pending {
		e.Phase, e.Attempts, e.At, e.End = rec.Phase, rec.Attempts, rec.Start, rec.End
	}
	if err := c.mem.Mark(ctx, rec.ID, ""); err != nil {
		return err // not claimed: nothing to write
	}
	lerr := c.log.append(e)
	if err := c.mem.End(ctx, rec); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("claims log: %w", lerr)
	}
	return nil
}

func (c *fileCoordinator) Kill(ctx context.Context, reason string) error {
	return c.mem.Kill(ctx, reason)
}

func (c *fileCoordinator) Changes(ctx context.Context) <-chan struct{} {
	return c.mem.Changes(ctx)
}

func (c *fileCoordinator) Stopped() error { return c.mem.Stopped() }

// close makes every entry durable and closes the log.
func (c *fileCoordinator) close() error { return c.log.close() }
