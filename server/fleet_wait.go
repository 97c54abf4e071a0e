package server

import (
	"context"
	"time"
)

// WaitProfile returns the profile of the client of the given ID (as
// [Fleet.Profile] does) once its ETag differs from etag: at once when it
// already does, else when a change of the config or of the client's record
// gives it a new one (made on this replica, or on another and seen here), or after wait on the fleet's clock, or when ctx is
// done; changed reports whether the ETag differs. A long-poll of an agent
// for its next profile is this call.
func (f *Fleet) WaitProfile(ctx context.Context, id, etag string, wait time.Duration) (data []byte, newTag string, changed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timeout := f.clk.After(wait)
	for {
		// Wait before looking, so that no change falls between the two.
		cfg, rec := f.bell.wait(id)
		data, newTag, err = f.Profile(id)
		if err != nil || newTag != etag {
			return data, newTag, err == nil, err
		}
		select {
		case <-cfg:
		case <-rec:
		case <-timeout:
			return data, newTag, false, nil
		case <-ctx.Done():
			return data, newTag, false, nil
		}
	}
}
