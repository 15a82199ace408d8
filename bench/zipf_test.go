package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestZipfSampler(t *testing.T) {
	tests := []struct {
		n int
		s float64
	}{{1, 1}, {10, 1}, {500, 1}, {50, 0.8}}
	for _, tc := range tests {
		t.Run("", func(t *testing.T) {
			z := newZipf(tc.n, tc.s)
			w := zipfWeights(tc.n, tc.s)
			r := rand.New(rand.NewPCG(1, 2))
			const draws = 200000
			got := make([]int, tc.n)
			for range draws {
				k := z.sample(r)
				if k < 0 || k >= tc.n {
					t.Fatalf("rank %d out of 0..%d", k, tc.n-1)
				}
				got[k]++
			}
			for _, k := range []int{0, 1, tc.n / 2, tc.n - 1} {
				if k >= tc.n {
					continue
				}
				want := w[k] * draws
				if sd := math.Sqrt(want); math.Abs(float64(got[k])-want) > 5*sd+1 {
					t.Errorf("rank %d: %d draws, want %.0f ± %.0f", k, got[k], want, 5*sd)
				}
			}
			if tc.n > 1 && tc.s == 1 && math.Abs(w[0]/w[1]-2) > 1e-9 {
				t.Errorf("s=1: P(0)/P(1) = %v, want 2", w[0]/w[1])
			}
		})
	}
	t.Run("bounds", func(t *testing.T) {
		z := newZipf(5, 1)
		if z.at(0) != 0 || z.at(0.999999999) != 4 {
			t.Errorf("at(0)=%d at(~1)=%d", z.at(0), z.at(0.999999999))
		}
	})
}

func TestZipfCounts(t *testing.T) {
	tests := []struct {
		name             string
		total, n, hot    int
		wantHot, wantMin int
	}{
		{"quick", 20000, 50, 5000, 5000, 1},
		{"hot takes all", 100, 1, 5, 100, 100},
		{"few comments", 10, 8, 3, 3, 1},
		{"hot above total", 10, 3, 50, 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := zipfCounts(tc.total, tc.n, tc.hot, 1)
			sum, minC := 0, math.MaxInt
			for i, x := range c {
				sum += x
				if i > 0 {
					minC = min(minC, x)
				}
			}
			if tc.n == 1 {
				minC = c[0]
			}
			if sum != tc.total || c[0] != tc.wantHot || minC < tc.wantMin {
				t.Errorf("counts %v: sum %d (want %d), hot %d (want %d), min %d (want ≥ %d)", c, sum, tc.total, c[0], tc.wantHot, minC, tc.wantMin)
			}
			for i := 2; i < len(c); i++ {
				if c[i] > c[i-1]+1 {
					t.Errorf("not decreasing at %d: %v", i, c)
				}
			}
		})
	}
}
