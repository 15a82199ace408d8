package config

import "cmp"

// Default sets *opt to def when it is zero or less (or empty): the rule by
// which every Options and Config of the services fills what its caller
// left out.
func Default[T cmp.Ordered](opt *T, def T) {
	var zero T
	if *opt <= zero {
		*opt = def
	}
}
