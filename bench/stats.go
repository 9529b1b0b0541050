package bench

import (
	"math"
	"sort"
)

// Median returns the median of xs (the mean of the middle two for an even count); NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func minMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// MedianCI returns a distribution-free confidence interval for the median of xs at level
// conf (0.95): the order statistics x(k) and x(n+1-k) for the largest k whose binomial tail
// stays within (1-conf)/2. ok is false when xs has too few values for that level, in which
// case the interval is the full min-max range.
func MedianCI(xs []float64, conf float64) (lo, hi float64, ok bool) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), math.NaN(), false
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	alpha := (1 - conf) / 2
	// P(B <= j) for B ~ Binomial(n, 1/2), accumulated until it would exceed alpha.
	k := 0
	cum := 0.0
	for j := 0; j < n/2; j++ {
		cum += binomHalf(n, j)
		if cum > alpha {
			break
		}
		k = j + 1
	}
	if k == 0 {
		return s[0], s[n-1], false
	}
	return s[k-1], s[n-k], true
}

// binomHalf is P(B = j) for B ~ Binomial(n, 1/2).
func binomHalf(n, j int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Exp(lg(n) - lg(j) - lg(n-j) - float64(n)*math.Ln2)
}

// MannWhitney returns the two-sided p-value of the Mann-Whitney U test that xs and ys come
// from the same distribution. Small samples without ties use the exact distribution of U;
// others the normal approximation with tie and continuity corrections.
func MannWhitney(xs, ys []float64) float64 {
	m, n := len(xs), len(ys)
	if m == 0 || n == 0 {
		return 1
	}
	type obs struct {
		v float64
		x bool
	}
	all := make([]obs, 0, m+n)
	for _, v := range xs {
		all = append(all, obs{v, true})
	}
	for _, v := range ys {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	// Mid-ranks; tieTerm accumulates sum(t^3 - t) over tie groups.
	rankX, tieTerm, ties := 0.0, 0.0, false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].x {
				rankX += mid
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		i = j
	}
	u := rankX - float64(m*(m+1))/2
	if !ties && m <= 25 && n <= 25 {
		return exactMannWhitney(m, n, u)
	}
	mu := float64(m*n) / 2
	N := float64(m + n)
	sigma2 := float64(m*n) / 12 * ((N + 1) - tieTerm/(N*(N-1)))
	if sigma2 <= 0 {
		return 1
	}
	z := math.Max(0, math.Abs(u-mu)-0.5) / math.Sqrt(sigma2)
	return math.Min(1, math.Erfc(z/math.Sqrt2))
}

// exactMannWhitney is the two-sided p-value of U=u for samples of m and n without ties.
// The count of orderings with U=k satisfies c(i,j,k) = c(i-1,j,k-j) + c(i,j-1,k).
func exactMannWhitney(m, n int, u float64) float64 {
	maxU := m * n
	// cnt[i][j] is the distribution of U for sizes i and j, as counts.
	cnt := make([][][]float64, m+1)
	for i := range cnt {
		cnt[i] = make([][]float64, n+1)
		for j := range cnt[i] {
			cnt[i][j] = make([]float64, i*j+1)
			if i == 0 || j == 0 {
				cnt[i][j][0] = 1
				continue
			}
			for k := 0; k <= i*j; k++ {
				var a, b float64
				if k-j >= 0 && k-j <= (i-1)*j {
					a = cnt[i-1][j][k-j]
				}
				if k <= i*(j-1) {
					b = cnt[i][j-1][k]
				}
				cnt[i][j][k] = a + b
			}
		}
	}
	dist := cnt[m][n]
	total := 0.0
	for _, c := range dist {
		total += c
	}
	ui := int(math.Round(u))
	lo, hi := 0.0, 0.0
	for k := 0; k <= maxU; k++ {
		if k <= ui {
			lo += dist[k]
		}
		if k >= ui {
			hi += dist[k]
		}
	}
	return math.Min(1, 2*math.Min(lo, hi)/total)
}
