package main

import (
	"testing"

	"github.com/vidcomments/vidcomments/readsvc/pages"
)

func TestMemoryLimit(t *testing.T) {
	// What the caches may hold, with an eighth for their entries and
	// size classes, a full author-profile table, and 16 MiB for the rest
	// of a serving process (measured: 3–5 MiB of heap under wrk with
	// nothing cached, a 7 MiB version map when full) must fit, with room
	// for the collector; the
	// whole must stay inside the RSS the issue allows (cache + 64 MiB, of
	// which about 10 MiB are the binary's mapped text and data).
	for _, b := range []int64{16 << 20, 64 << 20, 1 << 30} {
		got := memoryLimit(b)
		held := b + b/8 + pages.StaleBytesFor(b)
		if need := held + held/8 + pages.ProfileTableBytes + 16<<20 + 8<<20; got < need {
			t.Errorf("memoryLimit(%d MiB) = %d MiB: under the %d MiB a full cache needs with 8 MiB for the collector", b>>20, got>>20, need>>20)
		}
		if most := b + b/8 + 64<<20 - 10<<20; b <= 64<<20 && got > most {
			t.Errorf("memoryLimit(%d MiB) = %d MiB: over the %d MiB the RSS goal leaves", b>>20, got>>20, most>>20)
		}
	}
	if got := memoryLimit(-1); got != 0 {
		t.Errorf("groupcache off: limit %d, want none", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	if got := memoryLimit(64 << 20); got != 0 {
		t.Errorf("GOMEMLIMIT set: limit %d, want none (the environment wins)", got)
	}
}
