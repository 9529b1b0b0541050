package bench

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd median %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even median %v", m)
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestMannWhitneyExact(t *testing.T) {
	// Completely separated samples of 5 and 5: P = 2 / C(10,5) = 2/252.
	p := MannWhitney([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10})
	if math.Abs(p-2.0/252) > 1e-12 {
		t.Errorf("p = %v, want %v", p, 2.0/252)
	}
	// 3 against 3 can never reach 5 %: the best is 2/20.
	if p := MannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6}); math.Abs(p-0.1) > 1e-12 {
		t.Errorf("3+3 separated p = %v, want 0.1", p)
	}
	// Interleaved samples are not different.
	if p := MannWhitney([]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}); p < 0.5 {
		t.Errorf("interleaved p = %v", p)
	}
}

func TestMannWhitneyTiesUseNormalApproximation(t *testing.T) {
	p := MannWhitney([]float64{1, 1, 1, 1, 1, 1}, []float64{1, 1, 1, 1, 1, 1})
	if p != 1 {
		t.Errorf("identical samples p = %v", p)
	}
	p = MannWhitney([]float64{1, 1, 2, 2, 2, 2, 2, 2}, []float64{5, 5, 6, 6, 6, 7, 7, 7})
	if p > 0.01 {
		t.Errorf("separated tied samples p = %v", p)
	}
}

func TestMedianCI(t *testing.T) {
	xs := []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}
	lo, hi, ok := MedianCI(xs, 0.95)
	// For n=10 the 95 % interval is x(2)..x(9) (coverage 97.9 %).
	if !ok || lo != 2 || hi != 9 {
		t.Errorf("CI = [%v, %v] %v, want [2, 9]", lo, hi, ok)
	}
	if _, _, ok := MedianCI([]float64{1, 2, 3, 4, 5}, 0.95); ok {
		t.Error("5 values cannot give a 95 % interval of the median")
	}
	if _, _, ok := MedianCI([]float64{1, 2, 3, 4, 5, 6}, 0.95); !ok {
		t.Error("6 values give the 96.9 % interval x(1)..x(6)")
	}
}
