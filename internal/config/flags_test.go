package config

import (
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

type sample struct {
	Name    string
	N       int
	Wait    time.Duration
	On      bool
	Brokers []string
}

func register(f *Flags, s *sample) {
	f.String(&s.Name, "name", "VC_NAME", "dflt", "a name")
	f.Int(&s.N, "n", "VC_N", 3, "a number")
	f.Duration(&s.Wait, "wait", "VC_WAIT", time.Second, "a wait")
	f.Bool(&s.On, "on", "VC_ON", false, "a switch")
	f.List(&s.Brokers, "brokers", "VC_BROKERS", []string{"a:1"}, "brokers")
}

func TestFlagsPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want sample
	}{
		{"defaults", nil, nil, sample{"dflt", 3, time.Second, false, []string{"a:1"}}},
		{"env overrides defaults", map[string]string{"VC_NAME": "env", "VC_N": "7", "VC_WAIT": "250ms", "VC_ON": "true", "VC_BROKERS": "b:1, c:2"}, nil,
			sample{"env", 7, 250 * time.Millisecond, true, []string{"b:1", "c:2"}}},
		{"flags override env", map[string]string{"VC_NAME": "env", "VC_N": "7"}, []string{"-name", "flag", "-n", "9", "-brokers", "d:4"},
			sample{"flag", 9, time.Second, false, []string{"d:4"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			f := NewFlagsEnv(flag.NewFlagSet("t", flag.ContinueOnError), envMap(tt.env))
			register(f, &s)
			if err := f.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Errorf("got %+v, want %+v", s, tt.want)
			}
		})
	}
}

func TestFlagsRejectMalformedEnv(t *testing.T) {
	for _, env := range []map[string]string{{"VC_N": "seven"}, {"VC_WAIT": "5"}, {"VC_ON": "maybe"}} {
		var s sample
		f := NewFlagsEnv(flag.NewFlagSet("t", flag.ContinueOnError), envMap(env))
		register(f, &s)
		err := f.Parse(nil)
		if err == nil {
			t.Errorf("env %v: no error", env)
			continue
		}
		for k := range env {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("env %v: error %q does not name %s", env, err, k)
			}
		}
	}
}

func TestSplitList(t *testing.T) {
	if got := SplitList(" a:1,, b:2 ,"); !reflect.DeepEqual(got, []string{"a:1", "b:2"}) {
		t.Errorf("SplitList = %q", got)
	}
}
