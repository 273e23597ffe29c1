#include "verify/internal/symbolic.h"

#include <algorithm>

#include <fmt/format.h>

#include "verify/internal/encoding.h"

namespace firebreak::verify::internal {

struct SymbolicEvaluator::Impl {
  Impl(std::shared_ptr<const policy::PolicySet> s, size_t min_slots)
      : set(std::move(s)),
        vars(ctx, *set->schema, std::max(min_slots, QuantifierInstances(*set)), CollectIds({set.get()})),
        enc(vars, *set),
        domain(vars.Domain()),
        solver(ctx) {
    solver.add(domain);
    for (size_t g = 0; g < set->guarantees.size(); ++g) violations.push_back(enc.Violation(g));
    Pack();
  }

  // Every term the decision needs, packed into one bit-vector so that one
  // model evaluation computes them all with shared subterms.
  void Pack() {
    auto add = [&](const z3::expr& b) { bools.push_back(b); };
    add(domain);
    add(enc.conflict);
    add(enc.permit);
    add(enc.any_forbid);
    add(enc.any_permit);
    for (const z3::expr& e : enc.disclosed) add(e);
    for (const z3::expr& e : enc.withheld) add(e);
    for (const z3::expr& e : enc.obligations) add(e);
    for (const z3::expr& e : enc.rule_matches) add(e);
    for (const z3::expr& e : enc.rule_unknown) add(e);
    for (const z3::expr& e : violations) add(e);
    z3::expr_vector parts(ctx);
    for (const z3::expr& b : bools) parts.push_back(z3::ite(b, ctx.bv_val(1, 1), ctx.bv_val(0, 1)));
    parts.push_back(enc.effective_purpose);
    packed = z3::concat(parts);
    width = bools.size() + enc.effective_purpose.get_sort().bv_size();
  }

  // Reads the decision from the value of `packed` in a model.
  Result<SymbolicDecision> Read(const z3::model& m) {
    z3::expr value = m.eval(packed, true);
    if (!value.is_numeral()) return tl::make_unexpected(Internal("the packed decision did not evaluate"));
    std::string bits = Z3_get_numeral_binary_string(ctx, value);
    if (bits.size() > width) return tl::make_unexpected(Internal("the packed decision is too wide"));
    bits.insert(0, width - bits.size(), '0');
    size_t at = 0;
    auto next = [&] { return bits[at++] == '1'; };
    SymbolicDecision d;
    d.in_domain = next();
    d.conflict = next();
    d.permit = next();
    bool any_forbid = next();
    bool any_permit = next();
    for (size_t k = 0; k < enc.disclosed.size(); ++k) d.disclosed |= policy::Mask{next()} << k;
    for (size_t k = 0; k < enc.withheld.size(); ++k) d.withheld |= policy::Mask{next()} << k;
    for (size_t o = 0; o < enc.obligations.size(); ++o) d.obligations |= policy::Mask{next()} << o;
    std::vector<bool> matches, unknown;
    for (size_t i = 0; i < enc.rule_matches.size(); ++i) matches.push_back(next());
    for (size_t i = 0; i < enc.rule_unknown.size(); ++i) unknown.push_back(next());
    for (size_t g = 0; g < violations.size(); ++g) d.violations.push_back(next());
    d.purpose = static_cast<uint8_t>(std::stoul(bits.substr(at), nullptr, 2));
    bool forbid = !d.conflict && any_forbid;
    bool permits = !d.conflict && !forbid && any_permit;
    for (uint32_t i = 0; i < set->rules.size(); ++i) {
      bool is_forbid = policy::IsForbid(set->rules[i].kind);
      if (!(is_forbid ? forbid : permits) || !matches[i]) continue;
      d.rules.push_back(i);
      if (is_forbid && unknown[i]) d.unknown_rules.push_back(i);
    }
    return d;
  }

  z3::context ctx;
  std::shared_ptr<const policy::PolicySet> set;
  RequestVars vars;
  SetEncoding enc;
  z3::expr domain;
  z3::solver solver;
  std::vector<z3::expr> violations;
  std::vector<z3::expr> bools;
  z3::expr packed{ctx};
  size_t width = 0;
};

SymbolicEvaluator::SymbolicEvaluator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SymbolicEvaluator::~SymbolicEvaluator() = default;

size_t SymbolicEvaluator::slots() const { return impl_->vars.slots.size(); }

Result<std::unique_ptr<SymbolicEvaluator>> SymbolicEvaluator::Create(
    std::shared_ptr<const policy::PolicySet> set, size_t min_slots) {
  return Z3Guard([&]() -> Result<std::unique_ptr<SymbolicEvaluator>> {
    return std::unique_ptr<SymbolicEvaluator>(
        new SymbolicEvaluator(std::make_unique<Impl>(std::move(set), min_slots)));
  });
}

Result<SymbolicDecision> SymbolicEvaluator::Evaluate(const engine::Request& request) {
  if (request.cases.size() > slots()) {
    return tl::make_unexpected(InvalidArgument(
        fmt::format("request has {} cases, the encoding {} slots", request.cases.size(), slots())));
  }
  return Z3Guard([&]() -> Result<SymbolicDecision> {
    z3::model m(impl_->ctx);
    for (auto& [var, value] : impl_->vars.Bindings(request)) {
      z3::func_decl f = var.decl();
      m.add_const_interp(f, value);
    }
    return impl_->Read(m);
  });
}

Result<SymbolicDecision> SymbolicEvaluator::Solve(const engine::Request& request) {
  if (request.cases.size() > slots()) {
    return tl::make_unexpected(InvalidArgument(
        fmt::format("request has {} cases, the encoding {} slots", request.cases.size(), slots())));
  }
  return Z3Guard([&]() -> Result<SymbolicDecision> {
    z3::solver& s = impl_->solver;
    s.push();
    for (auto& [var, value] : impl_->vars.Bindings(request)) s.add(var == value);
    z3::check_result r = s.check();
    if (r != z3::sat) {
      s.pop();
      if (r == z3::unsat) {
        SymbolicDecision d;
        d.in_domain = false;
        return d;
      }
      return tl::make_unexpected(Unavailable("Z3: " + s.reason_unknown()));
    }
    z3::model m = s.get_model();
    s.pop();
    return impl_->Read(m);
  });
}

Result<std::vector<engine::Request>> SymbolicEvaluator::Seeds() {
  return Z3Guard([&]() -> Result<std::vector<engine::Request>> {
    Impl& m = *impl_;
    std::vector<z3::expr> goals;
    for (const z3::expr& e : m.enc.rule_matches) goals.push_back(!m.enc.conflict && e);
    for (const z3::expr& e : m.enc.norm_applies) goals.push_back(e);
    goals.push_back(m.enc.conflict);
    for (size_t g = 0; g < m.set->guarantees.size(); ++g) {
      goals.push_back(m.enc.GuaranteeApplies(g) && m.enc.permit);
    }
    std::vector<engine::Request> out;
    for (const z3::expr& goal : goals) {
      m.solver.push();
      m.solver.add(goal);
      if (m.solver.check() == z3::sat) {
        auto r = m.vars.Extract(m.solver.get_model());
        if (!r) {
          m.solver.pop();
          return tl::make_unexpected(r.error());
        }
        out.push_back(std::move(*r));
      }
      m.solver.pop();
    }
    return out;
  });
}

std::vector<std::pair<policy::CondId, bool>> SymbolicEvaluator::QuantifierNodes(const policy::PolicySet& set) {
  std::vector<std::pair<policy::CondId, bool>> out;
  for (auto [id, pc] : QuantifierList(set)) out.emplace_back(id, pc == PurposeContext::kDeclared);
  return out;
}

}  // namespace firebreak::verify::internal
