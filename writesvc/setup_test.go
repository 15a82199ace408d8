package main

import "testing"

// startOnStack opens most tests of this package: t runs in parallel with
// the others, on a stack of its own (newStack), with one writesvc in this
// process configured by mods (see testStack.config).
func startOnStack(t *testing.T, mods ...func(*Config)) (*testStack, *instance) {
	t.Helper()
	t.Parallel()
	st := newStack(t)
	return st, start(t, st.config(t, mods...), overrides{})
}
