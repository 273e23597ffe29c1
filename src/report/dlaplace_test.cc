// The samplers against their exact distributions. Each test draws at least
// 10^6 values from OpenSSL's CSPRNG and runs Pearson's χ² test against the
// closed-form probabilities, computed in the test in long double, at a
// significance of 10^-6 (a correct sampler fails once in a million runs). The
// same draws are then tested against a slightly wrong distribution (a scale or
// γ 5–10 % off), which the test must reject: that shows it can fail.
#include "report/dlaplace.h"

#include <cmath>
#include <map>
#include <vector>

#include <gtest/gtest.h>

namespace firebreak::report {
namespace {

constexpr int kDraws = 1'000'000;

// Upper 10^-6 quantile of χ² with `df` degrees of freedom (Wilson–Hilferty,
// z = 4.7534; within 1 % of the exact quantile for df ≥ 1 at this level, and
// rounded up).
double Critical(int df) {
  if (df == 1) return 23.93;  // 4.8916², two-sided normal
  double a = 2.0 / (9.0 * df);
  return 1.01 * df * std::pow(1 - a + 4.7534 * std::sqrt(a), 3);
}

double ChiSquare(const std::vector<long>& observed, const std::vector<long double>& probability) {
  long double chi = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    long double e = probability[i] * kDraws;
    chi += (observed[i] - e) * (observed[i] - e) / e;
  }
  return double(chi);
}

// Bins −K..K and one for |x| > K, with the exact discrete Laplace
// probabilities of scale t/s: P[x] = (1−p)/(1+p)·p^{|x|}, p = e^{−s/t}.
std::vector<long double> LaplaceBins(long double t, long double s, int k) {
  long double p = std::exp(-s / t);
  std::vector<long double> prob;
  for (int x = -k; x <= k; ++x) prob.push_back((1 - p) / (1 + p) * std::pow(p, (long double)std::abs(x)));
  prob.push_back(2 * std::pow(p, (long double)(k + 1)) / (1 + p));
  return prob;
}

TEST(DiscreteLaplace, MatchesItsExactDistribution) {
  CsprngSource rng;
  const int k = 12;
  std::vector<long> observed(2 * k + 2, 0);
  long double sum = 0;
  for (int i = 0; i < kDraws; ++i) {
    auto x = SampleDiscreteLaplace(3, 2, rng);  // scale 3/2
    ASSERT_TRUE(x.has_value());
    sum += *x;
    if (std::abs(*x) > k) {
      ++observed.back();
    } else {
      ++observed[size_t(*x + k)];
    }
  }
  auto right = LaplaceBins(3, 2, k);
  long double total = 0;
  for (long double p : right) total += p;
  EXPECT_NEAR(double(total), 1.0, 1e-12);  // the bins partition the integers
  int df = int(observed.size()) - 1;
  double chi = ChiSquare(observed, right);
  EXPECT_LT(chi, Critical(df)) << "χ² against scale 3/2";
  // The same draws against scale 3.3/2 (10 % off) and 2.7/2: rejected.
  EXPECT_GT(ChiSquare(observed, LaplaceBins(3.3L, 2, k)), Critical(df));
  EXPECT_GT(ChiSquare(observed, LaplaceBins(2.7L, 2, k)), Critical(df));
  // Symmetric: the mean is 0 within 5 standard errors (variance 2p/(1−p)²).
  long double p = std::exp(-2.0L / 3.0L);
  long double sd = std::sqrt(2 * p / ((1 - p) * (1 - p)) / kDraws);
  EXPECT_LT(std::fabs(double(sum / kDraws)), double(5 * sd));
}

TEST(DiscreteLaplace, LargeScaleMatchesToo) {
  // Scale 20/1: the geometric part (V) and the rejection on U both matter.
  CsprngSource rng;
  const int k = 60;
  std::vector<long> observed(2 * k + 2, 0);
  for (int i = 0; i < kDraws; ++i) {
    int64_t x = *SampleDiscreteLaplace(20, 1, rng);
    if (std::abs(x) > k) {
      ++observed.back();
    } else {
      ++observed[size_t(x + k)];
    }
  }
  int df = int(observed.size()) - 1;
  EXPECT_LT(ChiSquare(observed, LaplaceBins(20, 1, k)), Critical(df));
  EXPECT_GT(ChiSquare(observed, LaplaceBins(21, 1, k)), Critical(df));
}

struct BernoulliCase {
  uint64_t n, d;
};

class BernoulliExpTest : public ::testing::TestWithParam<BernoulliCase> {};

TEST_P(BernoulliExpTest, MatchesExpMinusGamma) {
  auto [n, d] = GetParam();
  CsprngSource rng;
  long ones = 0;
  for (int i = 0; i < kDraws; ++i) {
    auto b = SampleBernoulliExp(n, d, rng);
    ASSERT_TRUE(b.has_value());
    ones += *b;
  }
  long double gamma = (long double)n / d;
  auto chi = [&](long double q) {
    return ChiSquare({ones, kDraws - ones}, {q, 1 - q});
  };
  long double right = std::exp(-gamma);
  if (n == 0) {
    EXPECT_EQ(ones, kDraws);  // exp(0) = 1: always true
    return;
  }
  EXPECT_LT(chi(right), Critical(1)) << "γ = " << n << "/" << d;
  EXPECT_GT(chi(std::exp(-gamma * 1.05L)), Critical(1)) << "a 5 % wrong γ must be rejected";
  EXPECT_GT(chi(std::exp(-gamma * 0.95L)), Critical(1));
}

INSTANTIATE_TEST_SUITE_P(Gammas, BernoulliExpTest,
                         ::testing::Values(BernoulliCase{0, 1}, BernoulliCase{1, 3}, BernoulliCase{1, 1},
                                           BernoulliCase{7, 2}, BernoulliCase{2, 7}));

TEST(UniformBelow, IsUniform) {
  CsprngSource rng;
  std::vector<long> observed(7, 0);
  for (int i = 0; i < kDraws; ++i) ++observed[UniformBelow(7, rng)];
  std::vector<long double> right(7, 1.0L / 7);
  EXPECT_LT(ChiSquare(observed, right), Critical(6));
  std::vector<long double> skewed = {0.15L, 1.0L / 7, 1.0L / 7, 1.0L / 7, 1.0L / 7, 1.0L / 7, 0};
  skewed.back() = 1 - 0.15L - 5.0L / 7;
  EXPECT_GT(ChiSquare(observed, skewed), Critical(6));
}

// A source whose generator fails: nothing is sampled (fail closed).
class BrokenSource : public RandomSource {
 public:
  uint64_t Next64() override { return 0; }
  bool ok() const override { return false; }
};

TEST(DiscreteLaplace, FailedGeneratorIsAnError) {
  BrokenSource rng;
  auto x = SampleDiscreteLaplace(3, 2, rng);
  ASSERT_FALSE(x.has_value());
  EXPECT_EQ(x.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(SampleBernoulliExp(1, 3, rng).has_value());
}

TEST(Rational, ParsesAndAdds) {
  EXPECT_EQ(Rational::Parse("2/4")->ToString(), "1/2");
  EXPECT_EQ(Rational::Parse("3")->ToString(), "3");
  for (const char* bad : {"", "0", "1/0", "-1/2", "0.5", "1/2/3", "a/b"}) {
    EXPECT_FALSE(Rational::Parse(bad).has_value()) << bad;
  }
  Rational sum = Rational::Parse("1/2")->Plus(*Rational::Parse("1/3"));
  EXPECT_EQ(sum.ToString(), "5/6");
  EXPECT_TRUE(sum.LessOrEqual(*Rational::Parse("5/6")));
  EXPECT_FALSE(sum.LessOrEqual(*Rational::Parse("4/5")));
}

TEST(HalfWidth95, IsTheSmallestCoveringK) {
  for (Scale sc : {Scale{1, 1}, Scale{3, 2}, Scale{10, 1}, Scale{100, 3}}) {
    int64_t k = HalfWidth95(sc);
    long double p = std::exp(-(long double)sc.s / sc.t);
    auto tail = [&](int64_t j) { return 2 * std::pow(p, (long double)(j + 1)) / (1 + p); };
    EXPECT_LE(tail(k), 0.05L);
    if (k > 0) {
      EXPECT_GT(tail(k - 1), 0.05L);
    }
  }
  // Scale 1 (p = e^{-1}): P[|X| > 1] = 2e^{-2}/(1+e^{-1}) ≈ 0.199, P[|X| > 2] ≈ 0.073, P[|X| > 3] ≈ 0.027.
  EXPECT_EQ(HalfWidth95(Scale{1, 1}), 3);
}

}  // namespace
}  // namespace firebreak::report
