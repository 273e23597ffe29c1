#include "engine/testing/generator.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

namespace firebreak::engine::testing {
using policy::EnumKind;
using policy::ValueType;

std::string PolicyGenerator::Pick(EnumKind k) {
  const auto& v = schema_.Values(k);
  return v[size_t(Uniform(int(v.size())))];
}

std::string PolicyGenerator::PickList(EnumKind k, int max) {
  int n = 1 + Uniform(max);
  std::vector<std::string> vals;
  for (int i = 0; i < n; ++i) {
    std::string v = Pick(k);
    if (std::find(vals.begin(), vals.end(), v) == vals.end()) vals.push_back(v);
  }
  std::string out = "[";
  for (size_t i = 0; i < vals.size(); ++i) out += (i ? ", " : "") + vals[i];
  return out + "]";
}

Mask PolicyGenerator::RandomMask(EnumKind k, int max_bits) {
  Mask m = 0;
  int n = Uniform(max_bits + 1);
  size_t size = schema_.Values(k).size();
  for (int i = 0; i < n; ++i) m |= Mask{1} << Uniform(int(size));
  return m;
}

std::string PolicyGenerator::Atom(bool in_case) {
  if (in_case) {
    switch (Uniform(3)) {
      case 0: return "case.role in " + PickList(EnumKind::kRole, 3);
      case 1: return "case.status in " + PickList(EnumKind::kCaseStatus, 3);
      default: return "case.type == " + Pick(EnumKind::kCaseType);
    }
  }
  switch (Uniform(20)) {
    case 0: return "purpose in " + PickList(EnumKind::kPurpose, 3);
    case 1: return "purpose == " + Pick(EnumKind::kPurpose);
    case 2: return "declared_purpose == " + Pick(EnumKind::kPurpose);
    case 3: return "requester.org_type in " + PickList(EnumKind::kOrgType, 3);
    case 4: return "action in " + PickList(EnumKind::kAction, 2);
    case 5: return "categories has_any " + PickList(EnumKind::kCategory, 3);
    case 6: return "categories has_all " + PickList(EnumKind::kCategory, 2);
    case 7: return "subject.roles has_any " + PickList(EnumKind::kRole, 3);
    case 8: return "subject.flags has " + Pick(EnumKind::kFlag);
    case 9: return "subject.immigration_concern != " + Pick(EnumKind::kConcern);
    case 10: return Uniform(2) ? "subject.regularisation_pending" : "not subject.consent_to_ie";
    case 11: return "subject.subject_initiated";
    case 12: return "some case where " + Atom(true);
    case 13: return "every case where (" + Atom(true) + " or " + Atom(true) + ")";
    case 14: return "no case where " + Atom(true);
    case 15: return "record.collected_as in " + PickList(EnumKind::kRole, 2);
    case 16: return "record.case.status in " + PickList(EnumKind::kCaseStatus, 3);
    case 17: return Uniform(2) ? "record is unknown" : "subject is known";
    case 18: return "legal_basis == " + Pick(EnumKind::kLegalBasis);
    default: {
      // A context value, when the schema declares any.
      if (schema_.context.empty()) return "subject.roles is empty";
      const policy::ContextVar& v = schema_.context[size_t(Uniform(int(schema_.context.size())))];
      switch (v.type) {
        case ValueType::kBool: return "context." + v.name;
        case ValueType::kInt: return fmt::format("context.{} >= {}", v.name, Uniform(5));
        case ValueType::kTimestamp: return fmt::format("context.{} < 2025-0{}-01", v.name, 1 + Uniform(9));
        case ValueType::kId: return fmt::format("context.{} == \"id{}\"", v.name, Uniform(3));
        case ValueType::kEnum: return fmt::format("context.{} in {}", v.name, PickList(v.kind, 2));
        case ValueType::kEnumSet: return fmt::format("context.{} has_any {}", v.name, PickList(v.kind, 2));
      }
      return "true";
    }
  }
}

std::string PolicyGenerator::Condition(int depth) {
  if (depth <= 0 || Uniform(3) == 0) return Atom(false);
  switch (Uniform(4)) {
    case 0: return Condition(depth - 1) + " and " + Condition(depth - 1);
    case 1: return "(" + Condition(depth - 1) + " or " + Condition(depth - 1) + ")";
    case 2: return "not (" + Condition(depth - 1) + ")";
    default: return Atom(false) + " and " + Atom(false);
  }
}

std::string PolicyGenerator::Rules(int count, const std::string& prefix) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    bool forbid = Uniform(3) == 0;
    std::string name = fmt::format("{}{}", prefix, i);
    if (forbid) {
      out += fmt::format("forbid {} {{\n  when {}\n  obligations {}\n  because \"generated\"\n}}\n\n",
                         name, Condition(2), PickList(EnumKind::kObligation, 1));
    } else {
      out += fmt::format(
          "permit {} {{\n  when {}\n  grant {}\n  withhold {}\n  obligations {}\n  because "
          "\"generated\"\n}}\n\n",
          name, Condition(2), Uniform(4) == 0 ? "all" : PickList(EnumKind::kCategory, 6),
          PickList(EnumKind::kCategory, 2), PickList(EnumKind::kObligation, 2));
    }
  }
  return out;
}

std::string PolicyGenerator::Agreements(int count, const std::string& prefix) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += fmt::format(
        "agreement {}{} {{\n  parties {}\n  purposes {}\n  data {}\n  withhold {}\n  legal_basis "
        "{}\n  retention \"12 months\"\n  security \"secure transfer\"\n  review 2027-0{}-01\n  "
        "owner \"Generated DPO\"\n  when {}\n  obligations {}\n  because \"generated agreement\"\n}}\n\n",
        prefix, i, PickList(EnumKind::kOrgType, 2), PickList(EnumKind::kPurpose, 2),
        PickList(EnumKind::kCategory, 5), PickList(EnumKind::kCategory, 1),
        PickList(EnumKind::kLegalBasis, 2), 1 + Uniform(9), Condition(1),
        PickList(EnumKind::kObligation, 1));
  }
  return out;
}

std::string PolicyGenerator::Normalisation(const std::string& name) {
  return fmt::format(
      "normalise {} {{\n  from {}\n  to {}\n  when {}\n  because \"generated\"\n}}\n\n", name,
      PickList(EnumKind::kPurpose, 2), Pick(EnumKind::kPurpose), Atom(false));
}

Request PolicyGenerator::RandomRequest() {
  Request r;
  auto idx = [&](EnumKind k) { return uint8_t(Uniform(int(schema_.Values(k).size()))); };
  r.org = fmt::format("org-{}", Uniform(3));
  r.org_type = idx(EnumKind::kOrgType);
  r.user_role = idx(EnumKind::kUserRole);
  r.purpose = idx(EnumKind::kPurpose);
  r.action = idx(EnumKind::kAction);
  r.legal_basis = idx(EnumKind::kLegalBasis);
  r.categories = RandomMask(EnumKind::kCategory, 5);
  r.has_subject = Uniform(8) != 0;
  if (r.has_subject) {
    r.roles = RandomMask(EnumKind::kRole, 2);
    r.flags = RandomMask(EnumKind::kFlag, 2);
    r.concern = idx(EnumKind::kConcern);
    r.regularisation_pending = Uniform(2);
    r.subject_initiated = Uniform(2);
    r.consent_to_ie = Uniform(2);
    int n = Uniform(4);
    for (int i = 0; i < n; ++i) {
      CaseFacts c{idx(EnumKind::kCaseType), idx(EnumKind::kCaseStatus), idx(EnumKind::kRole)};
      r.roles |= Mask{1} << c.role;
      r.cases.push_back(c);
    }
  }
  r.has_record = Uniform(3) != 0;
  if (r.has_record) {
    r.collected_as = idx(EnumKind::kRole);
    r.has_record_case = Uniform(4) != 0;
    r.record_case_type = idx(EnumKind::kCaseType);
    r.record_case_status = idx(EnumKind::kCaseStatus);
  }
  r.context.resize(schema_.context.size());
  for (size_t i = 0; i < schema_.context.size(); ++i) {
    const policy::ContextVar& v = schema_.context[i];
    ContextValue& cv = r.context[i];
    cv.present = v.required || Uniform(2);
    if (!cv.present) continue;
    cv.boolean = Uniform(2);
    cv.number = v.type == ValueType::kTimestamp ? 1704067200 + int64_t(Uniform(365)) * 86400 : Uniform(6);
    cv.id = fmt::format("id{}", Uniform(4));
    cv.mask = v.type == ValueType::kEnum ? Mask{1} << Uniform(int(schema_.Values(v.kind).size()))
                                         : RandomMask(v.kind, 2);
  }
  return r;
}

std::string PolicyGenerator::WritePack(const std::string& dir, const std::string& name,
                                       const std::string& schema_dir, const std::string& body,
                                       int files, uint64_t shuffle_seed) {
  namespace fs = std::filesystem;
  fs::path pack = fs::path(dir) / name;
  fs::remove_all(pack);
  fs::create_directories(pack);
  std::ofstream(pack / "pack.fbp") << "pack " << name << " {\n  layer national\n  import \""
                                   << fs::absolute(schema_dir).string() << "\"\n}\n";
  // Split the body into items at blank lines, shuffle, deal into files.
  std::vector<std::string> items;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\n\n", start);
    if (end == std::string::npos) end = body.size();
    std::string item = body.substr(start, end - start);
    if (item.find_first_not_of(" \n") != std::string::npos) items.push_back(item + "\n");
    start = end + 2;
  }
  std::mt19937_64 rng(shuffle_seed);
  if (shuffle_seed) std::shuffle(items.begin(), items.end(), rng);
  std::vector<std::string> texts(size_t(std::max(files, 1)));
  for (size_t i = 0; i < items.size(); ++i) texts[i % texts.size()] += items[i] + "\n";
  for (size_t i = 0; i < texts.size(); ++i) {
    std::ofstream(pack / fmt::format("rules{}.fbp", i)) << texts[i];
  }
  return pack.string();
}

}  // namespace firebreak::engine::testing
