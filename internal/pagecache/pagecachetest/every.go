package pagecachetest

import "time"

// Every calls step(0), step(1), … once every d, until stop is closed or
// step returns false: a background writer of a test (cdc recording, the
// syncer settling) that runs at a steady rate.
func Every(stop <-chan struct{}, d time.Duration, step func(i int64) bool) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for i := int64(0); ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if !step(i) {
			return
		}
	}
}
