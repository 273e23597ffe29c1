// The exact discrete Laplace (two-sided geometric) mechanism of Canonne,
// Kamath and Steinke, "The Discrete Gaussian for Differential Privacy"
// (NeurIPS 2020), §5: Bernoulli(exp(-γ)) for a rational γ (their Algorithm 1)
// and the discrete Laplace with rational scale t/s (their Algorithm 2),
// P[X = x] = (e^{s/t} − 1)/(e^{s/t} + 1) · e^{−|x|·s/t} for every integer x.
//
// The samplers use integers only: every coin is a uniform integer below a
// bound, drawn by rejection from 64 random bits, and no floating-point value
// takes part, so the output distribution is exactly the one above (no
// rounding attack on a float Laplace). Randomness comes from a
// `RandomSource`; the one releases use is `CsprngSource` (OpenSSL RAND_bytes).
//
// `HalfWidth95` is for reading the output, not for sampling: the smallest k
// with P[|X| > k] ≤ 5 %, computed from the closed form in long double.
//
// Error model: a source that fails (RAND_bytes) makes the samplers return
// kUnavailable; nothing is released with missing noise (fail closed).
// Thread model: a `RandomSource` is single-threaded; the functions are pure
// apart from the source they are given.
//
//   report::CsprngSource rng;
//   FB_ASSIGN_OR_RETURN(int64_t noise, report::SampleDiscreteLaplace(3, 2, rng));  // scale 3/2
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"

namespace firebreak::report {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // 64 uniformly random bits. After a failure, `ok()` is false for good.
  virtual uint64_t Next64() = 0;
  virtual bool ok() const = 0;
};

// OpenSSL's CSPRNG, read 4 KiB at a time.
class CsprngSource final : public RandomSource {
 public:
  uint64_t Next64() override;
  bool ok() const override { return ok_; }

 private:
  unsigned char buf_[4096];
  size_t pos_ = sizeof buf_;
  bool ok_ = true;
};

// A uniform integer in [0, n), n ≥ 1, by rejection (no modulo bias).
uint64_t UniformBelow(uint64_t n, RandomSource& rng);

// Bernoulli(exp(−n/d)) for n ≥ 0, d ≥ 1 (CKS Algorithm 1). True with
// probability exp(−n/d).
Result<bool> SampleBernoulliExp(uint64_t n, uint64_t d, RandomSource& rng);

// Discrete Laplace with scale t/s, t, s ≥ 1 (CKS Algorithm 2).
Result<int64_t> SampleDiscreteLaplace(uint64_t t, uint64_t s, RandomSource& rng);

// A positive rational a/b in lowest terms, e.g. ε = 1/2. Parsed from "a/b"
// or "a" (digits only).
struct Rational {
  uint64_t num = 0, den = 1;
  static Result<Rational> Parse(std::string_view text);
  std::string ToString() const;  // "a/b", or "a" when b = 1
  Rational Plus(const Rational& o) const;  // saturates at UINT64_MAX/… is refused by callers
  bool LessOrEqual(const Rational& o) const;
  bool operator==(const Rational&) const = default;
};

// The noise added to a count with contribution cap `cap` (L1 sensitivity) for
// privacy loss `epsilon`: discrete Laplace of scale cap/ε, i.e. t/s with
// t = cap·ε.den, s = ε.num.
struct Scale {
  uint64_t t = 1, s = 1;
};
Result<Scale> ScaleFor(uint64_t cap, const Rational& epsilon);

// The smallest k ≥ 0 with P[|X| > k] ≤ 0.05 for X of scale t/s: the noisy
// count ± k covers the true count with probability ≥ 95 %.
int64_t HalfWidth95(const Scale& scale);

}  // namespace firebreak::report
