// Statements the proofs make true: one sentence per guarantee the verifier
// proves for the pack in force, built from the guarantee itself (its kind,
// its categories or obligations and its condition as written), never typed
// by hand.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "report/report.h"
#include "verify/verify.h"

namespace firebreak::report {

namespace {

// The guarantee's condition, as its canonical text writes it, on one line.
std::string Condition(const policy::Guarantee& g) {
  const std::string& c = g.canonical;
  size_t when = c.find(" when ");
  if (when == std::string::npos) return "";
  size_t end = c.find("because", when);
  std::string cond = c.substr(when + 6, end == std::string::npos ? std::string::npos : end - when - 6);
  std::string out;
  bool space = false;
  for (char ch : cond) {
    if (ch == '\n' || ch == ' ' || ch == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(ch);
  }
  return out;
}

}  // namespace

std::string StatementText(const policy::Guarantee& g, const policy::PolicySet& set) {
  std::string cond = Condition(g);
  std::string when = cond.empty() ? "" : " when " + cond;
  const policy::Schema& s = *set.schema;
  switch (g.kind) {
    case policy::GuaranteeKind::kNeverPermit:
      return fmt::format("0 permits{}.", when);
    case policy::GuaranteeKind::kNeverDisclose:
      return fmt::format("0 disclosures of [{}]{}.", fmt::join(s.Names(policy::EnumKind::kCategory, g.mask), ", "),
                         when);
    case policy::GuaranteeKind::kAlwaysObligations:
      return fmt::format("Every permit{} carries the obligations [{}].", when,
                         fmt::join(s.Names(policy::EnumKind::kObligation, g.mask), ", "));
    case policy::GuaranteeKind::kAlwaysPermit:
      return fmt::format("Every request{} (every fact known) is permitted.", when);
  }
  return "";
}

Result<std::vector<Statement>> ProvedStatements(std::shared_ptr<const policy::PolicySet> set) {
  FB_ASSIGN_OR_RETURN(verify::VerifyReport proved, verify::VerifyGuarantees(set));
  std::vector<Statement> out;
  for (const verify::GuaranteeResult& r : proved.guarantees) {
    if (r.outcome != verify::Outcome::kProved) continue;
    for (const policy::Guarantee& g : set->guarantees) {
      if (g.name != r.name) continue;
      out.push_back(Statement{g.name, StatementText(g, *set), g.because, g.source});
    }
  }
  return out;
}

}  // namespace firebreak::report
