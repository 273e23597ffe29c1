#include "report/dlaplace.h"

#include <openssl/rand.h>

#include <cmath>
#include <cstring>
#include <numeric>

namespace firebreak::report {

// 128-bit products of 64-bit numbers (a GCC/Clang extension).
__extension__ typedef unsigned __int128 U128;

uint64_t CsprngSource::Next64() {
  if (pos_ + 8 > sizeof buf_) {
    if (RAND_bytes(buf_, sizeof buf_) != 1) ok_ = false;
    pos_ = 0;
  }
  uint64_t v;
  std::memcpy(&v, buf_ + pos_, 8);
  pos_ += 8;
  return ok_ ? v : 0;
}

uint64_t UniformBelow(uint64_t n, RandomSource& rng) {
  if (n <= 1) return 0;
  // Accept v below the largest multiple of n that fits in 2^64.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;  // the multiple − 1
  for (;;) {
    uint64_t v = rng.Next64();
    if (!rng.ok()) return 0;
    if (v <= limit) return v % n;
  }
}

namespace {

// Bernoulli(exp(−n/d)) for n ≤ d (γ ∈ [0, 1]): the number of successive
// successes of Bernoulli(γ/k), k = 1, 2, …, is even with probability e^{−γ}.
bool BernoulliExpAtMostOne(uint64_t n, uint64_t d, RandomSource& rng) {
  uint64_t k = 1;
  for (;;) {
    // Bernoulli(n / (d·k)): a uniform integer below d·k is below n.
    U128 dk = (U128)d * k;
    if (dk > UINT64_MAX) return (k % 2) == 1;  // probability n/(d·k) < 2^-64·n: never reached
    if (UniformBelow(uint64_t(dk), rng) >= n || !rng.ok()) break;
    ++k;
  }
  return (k % 2) == 1;
}

bool BernoulliExp(uint64_t n, uint64_t d, RandomSource& rng) {
  if (n <= d) return BernoulliExpAtMostOne(n, d, rng);
  // e^{−γ} = (e^{−1})^{⌊γ⌋} · e^{−(γ − ⌊γ⌋)}.
  for (uint64_t i = n / d; i > 0; --i) {
    if (!BernoulliExpAtMostOne(1, 1, rng)) return false;
  }
  return BernoulliExpAtMostOne(n % d, d, rng);
}

}  // namespace

Result<bool> SampleBernoulliExp(uint64_t n, uint64_t d, RandomSource& rng) {
  if (d == 0) return tl::make_unexpected(InvalidArgument("Bernoulli(exp(-n/d)): d must be positive"));
  bool b = BernoulliExp(n, d, rng);
  if (!rng.ok()) return tl::make_unexpected(Unavailable("the random number generator failed"));
  return b;
}

Result<int64_t> SampleDiscreteLaplace(uint64_t t, uint64_t s, RandomSource& rng) {
  if (t == 0 || s == 0) return tl::make_unexpected(InvalidArgument("discrete Laplace: the scale t/s needs t, s ≥ 1"));
  for (;;) {
    if (!rng.ok()) return tl::make_unexpected(Unavailable("the random number generator failed"));
    uint64_t u = UniformBelow(t, rng);
    if (!BernoulliExp(u, t, rng)) continue;
    uint64_t v = 0;
    while (BernoulliExpAtMostOne(1, 1, rng) && rng.ok()) ++v;
    U128 x = (U128)t * v + u;
    U128 y = x / s;
    if (y > uint64_t(INT64_MAX)) continue;  // probability below e^{-2^62}: never
    bool negative = UniformBelow(2, rng) == 1;
    if (negative && y == 0) continue;
    if (!rng.ok()) return tl::make_unexpected(Unavailable("the random number generator failed"));
    return negative ? -int64_t(y) : int64_t(y);
  }
}

Result<Rational> Rational::Parse(std::string_view text) {
  auto digits = [](std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 18) return false;
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + uint64_t(c - '0');
    }
    *out = v;
    return true;
  };
  Rational r;
  size_t slash = text.find('/');
  bool ok = slash == std::string_view::npos ? digits(text, &r.num)
                                             : digits(text.substr(0, slash), &r.num) && digits(text.substr(slash + 1), &r.den);
  if (!ok || r.num == 0 || r.den == 0) {
    return tl::make_unexpected(InvalidArgument("`" + std::string(text) +
                                               "` is not a positive rational a/b (digits only, e.g. 1/2)"));
  }
  uint64_t g = std::gcd(r.num, r.den);
  r.num /= g;
  r.den /= g;
  return r;
}

std::string Rational::ToString() const {
  return den == 1 ? std::to_string(num) : std::to_string(num) + "/" + std::to_string(den);
}

Rational Rational::Plus(const Rational& o) const {
  U128 n = (U128)num * o.den + (U128)o.num * den;
  U128 d = (U128)den * o.den;
  auto g128 = [](U128 a, U128 b) {
    while (b != 0) {
      U128 t = a % b;
      a = b;
      b = t;
    }
    return a;
  };
  U128 g = g128(n, d);
  n /= g;
  d /= g;
  if (n > UINT64_MAX || d > UINT64_MAX) return Rational{UINT64_MAX, 1};  // more than any budget
  return Rational{uint64_t(n), uint64_t(d)};
}

bool Rational::LessOrEqual(const Rational& o) const {
  return (U128)num * o.den <= (U128)o.num * den;
}

Result<Scale> ScaleFor(uint64_t cap, const Rational& epsilon) {
  if (cap == 0) return tl::make_unexpected(InvalidArgument("--cap must be at least 1"));
  U128 t = (U128)cap * epsilon.den;
  if (t > (uint64_t(1) << 40) || epsilon.num > (uint64_t(1) << 40)) {
    return tl::make_unexpected(InvalidArgument("the cap and ε give a noise scale out of range (numbers up to 2^40)"));
  }
  return Scale{uint64_t(t), epsilon.num};
}

int64_t HalfWidth95(const Scale& scale) {
  // P[|X| > k] = 2·p^{k+1}/(1+p) with p = e^{−s/t}.
  long double p = std::exp(-(long double)scale.s / (long double)scale.t);
  auto tail = [&](int64_t k) { return 2.0L * std::pow(p, (long double)(k + 1)) / (1.0L + p); };
  long double guess = std::log(0.05L * (1.0L + p) / 2.0L) / std::log(p) - 1.0L;
  int64_t k = guess < 0 ? 0 : int64_t(std::ceil(guess));
  while (k > 0 && tail(k - 1) <= 0.05L) --k;
  while (tail(k) > 0.05L) ++k;
  return k;
}

}  // namespace firebreak::report
