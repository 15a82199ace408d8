package main

import (
	"math"
	"math/rand/v2"
	"sort"
)

// zipf samples ranks 0..n-1 with P(k) proportional to 1/(k+1)^s. Unlike
// math/rand's Zipf it accepts s = 1.0 (and any s >= 0).
type zipf struct {
	cdf []float64 // cumulative, last = 1
}

func newZipf(n int, s float64) *zipf {
	w := zipfWeights(n, s)
	cdf := make([]float64, n)
	acc := 0.0
	for i, x := range w {
		acc += x
		cdf[i] = acc
	}
	cdf[n-1] = 1
	return &zipf{cdf: cdf}
}

// zipfWeights are the normalised probabilities of ranks 0..n-1.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	sum := 0.0
	for k := range w {
		w[k] = 1 / math.Pow(float64(k+1), s)
		sum += w[k]
	}
	for k := range w {
		w[k] /= sum
	}
	return w
}

// sample draws one rank with u from r.
func (z *zipf) sample(r *rand.Rand) int {
	return z.at(r.Float64())
}

// at maps u in [0,1) to a rank.
func (z *zipf) at(u float64) int {
	return sort.SearchFloat64s(z.cdf, u+1e-15) // first cdf >= u (strictly above for exact boundaries)
}

// zipfCounts splits total comments over n videos: video 0 gets hot (the hot
// video), the rest is spread over videos 1..n-1 Zipf(s)-wise by largest
// remainder, each getting at least one. The counts sum to total exactly.
func zipfCounts(total, n, hot int, s float64) []int {
	counts := make([]int, n)
	if n == 0 {
		return counts
	}
	hot = min(hot, total)
	counts[0] = hot
	if n == 1 {
		counts[0] = total
		return counts
	}
	rest := total - hot
	base := min(1, rest/(n-1))
	w := zipfWeights(n-1, s)
	type frac struct {
		i int
		f float64
	}
	left := rest - base*(n-1)
	var fr []frac
	given := 0
	for k, x := range w {
		exact := x * float64(left)
		c := int(exact)
		counts[k+1] = base + c
		given += c
		fr = append(fr, frac{k + 1, exact - float64(c)})
	}
	sort.Slice(fr, func(a, b int) bool { return fr[a].f > fr[b].f })
	for i := 0; given < left; i++ {
		counts[fr[i%len(fr)].i]++
		given++
	}
	return counts
}
