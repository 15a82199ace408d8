package epochkey

import "testing"

// The slots Redis Cluster's specification gives for these keys.
func TestSlot(t *testing.T) {
	for tag, want := range map[string]uint16{"123456789": 0x31C3 % 16384, "foo": 12182, "bar": 5061} {
		if got := Slot(tag); got != want {
			t.Errorf("Slot(%q) = %d, want %d", tag, got, want)
		}
	}
}

func TestForRangeLandsInTheRange(t *testing.T) {
	for _, r := range [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}, {100, 100}} {
		k := forRange(r[0], r[1])
		tag := k[len("vc:{") : len(k)-len("}:epoch")]
		if s := int(Slot(tag)); s < r[0] || s > r[1] {
			t.Errorf("%s: slot %d outside %v", k, s, r)
		}
	}
}
