package keel

import (
	"fmt"
	"math/big"
)

// Exact is an exact amount of minor units, Num/Den, kept as a fraction so
// that a line's MRR (its amount ÷ its months) is never truncated
// (METRICS.md: "kept exact … rounded half-up to minor units once, from the
// exact sum"). A 12-month line of 1,000.00 is 100000/12 = 8333.33… cents a
// month; three such lines are exactly 25,000.00, not 24,999.99.
//
// The zero value is 0. Den is positive and the fraction in lowest terms,
// so two equal amounts have equal fields.
type Exact struct {
	Num int64
	Den int64
}

// ExactOf is the whole amount n.
func ExactOf(n int64) Exact { return Exact{Num: n, Den: 1} }

// ExactRatio is num ÷ den; den must not be 0.
func ExactRatio(num, den int64) Exact {
	r, _ := fromRat(new(big.Rat).SetFrac64(num, den))
	return r
}

func (a Exact) rat() *big.Rat {
	if a.Den == 0 {
		return new(big.Rat)
	}
	return big.NewRat(a.Num, a.Den)
}

// fromRat converts back, reporting false when the fraction does not fit
// 64 bits (then the result is r rounded to whole minor units).
func fromRat(r *big.Rat) (Exact, bool) {
	if r.Num().IsInt64() && r.Denom().IsInt64() {
		if r.Sign() == 0 {
			return Exact{}, true
		}
		return Exact{Num: r.Num().Int64(), Den: r.Denom().Int64()}, true
	}
	return ExactOf(roundRat(r)), false
}

// roundRat rounds half up: ⌊r + ½⌋.
func roundRat(r *big.Rat) int64 {
	t := new(big.Rat).Add(r, big.NewRat(1, 2))
	q := new(big.Int).Div(t.Num(), t.Denom()) // Euclidean: floor for a positive denominator
	return q.Int64()
}

// IsZero reports whether a is 0.
func (a Exact) IsZero() bool { return a.Num == 0 }

// Sign is -1, 0 or +1.
func (a Exact) Sign() int {
	switch {
	case a.Num < 0:
		return -1
	case a.Num > 0:
		return 1
	}
	return 0
}

// Round is a rounded half up to whole minor units, the one place an exact
// amount becomes a number people read.
func (a Exact) Round() int64 {
	if a.Den <= 1 {
		return a.Num
	}
	return roundRat(a.rat())
}

// Float is a as a float, for ratios (never for money shown as money).
func (a Exact) Float() float64 {
	f, _ := a.rat().Float64()
	return f
}

// String writes a as num/den, or num when whole.
func (a Exact) String() string {
	if a.Den <= 1 {
		return fmt.Sprint(a.Num)
	}
	return fmt.Sprintf("%d/%d", a.Num, a.Den)
}

// ExactSum adds amounts exactly. Sums that would not fit 64 bits (an
// amount over about nine billion units of a currency with denominators in
// the millions) come back rounded to whole minor units, and ok is false.
type ExactSum struct{ r big.Rat }

// Add adds a to the sum.
func (s *ExactSum) Add(a Exact) {
	if a.Num != 0 {
		s.r.Add(&s.r, a.rat())
	}
}

// Sub subtracts a from the sum.
func (s *ExactSum) Sub(a Exact) {
	if a.Num != 0 {
		s.r.Sub(&s.r, a.rat())
	}
}

// AddFrac adds num ÷ den (den > 0), as stored rows carry it.
func (s *ExactSum) AddFrac(num, den int64) {
	if num != 0 && den > 0 {
		s.r.Add(&s.r, big.NewRat(num, den))
	}
}

// Exact is the sum so far.
func (s *ExactSum) Exact() (a Exact, ok bool) { return fromRat(&s.r) }

// Round is the sum rounded half up to whole minor units.
func (s *ExactSum) Round() int64 { return roundRat(&s.r) }

// Float is the sum as a float, for ratios.
func (s *ExactSum) Float() float64 {
	f, _ := s.r.Float64()
	return f
}

// Over writes a as a numerator over den, which must be a multiple of a's
// denominator (see CommonDen); false when the numerator overflows.
func (a Exact) Over(den int64) (int64, bool) {
	if a.Num == 0 {
		return 0, true
	}
	if a.Den <= 0 || den%a.Den != 0 {
		return 0, false
	}
	n := new(big.Int).Mul(big.NewInt(a.Num), big.NewInt(den/a.Den))
	if !n.IsInt64() {
		return 0, false
	}
	return n.Int64(), true
}

// CommonDen is the least common denominator of amounts, or false when it
// does not fit 64 bits.
func CommonDen(amounts ...Exact) (int64, bool) {
	l := big.NewInt(1)
	for _, a := range amounts {
		if a.Den <= 1 {
			continue
		}
		d := big.NewInt(a.Den)
		g := new(big.Int).GCD(nil, nil, l, d)
		l.Mul(l, d.Div(d, g))
		if !l.IsInt64() {
			return 0, false
		}
	}
	return l.Int64(), true
}
