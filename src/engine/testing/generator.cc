#include "engine/testing/generator.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "policy/parser.h"

namespace firebreak::engine::testing {

using policy::EnumKind;
using policy::Mask;
using policy::ValueType;

namespace {

constexpr const char* kOrgs[] = {"o1", "o2", "o3"};
constexpr const char* kRefs[] = {"r1", "r2"};
constexpr const char* kStamps[] = {"2024-01-01", "2024-06-01T12:00:00Z", "2025-01-01"};

}  // namespace

std::string SyntheticSchemaText() {
  return R"(schema synth {
  enum purpose [enforce, check, investigate, support, safeguard, stats]
  enum action [disclose, status-check, referral]
  enum org_type [police, ie, council, nhs]
  enum user_role [officer, analyst, dpo]
  enum role [victim, witness, suspect, patient]
  enum flag [da, child, vulnerable]
  enum category [identity, address, nationality, health, incident]
  enum case_type [da, burglary, theft]
  enum case_status [open, charged, closed]
  enum concern [none, doubts, confirmed]
  enum obligation [notify, justify, hold]
  enum legal_basis [s20, s35, consent]
  context urgent: bool optional
  context count: int optional
  context level: int required
  context seen_at: timestamp optional
  context ref: id optional
  context kind: case_type optional
  context tags: set flag optional
}
)";
}

std::string Generator::Pick(EnumKind k) {
  const auto& v = schema_.Values(k);
  return v[size_t(Uniform(int(v.size())))];
}

std::string Generator::PickList(EnumKind k, int max) {
  const auto& all = schema_.Values(k);
  int n = 1 + Uniform(std::min<int>(max, int(all.size())));
  std::vector<std::string> vals;
  while (int(vals.size()) < n) {
    std::string v = Pick(k);
    if (std::find(vals.begin(), vals.end(), v) == vals.end()) vals.push_back(v);
  }
  return "[" + fmt::format("{}", fmt::join(vals, ", ")) + "]";
}

Mask Generator::RandomMask(EnumKind k, int percent) {
  Mask m = 0;
  for (size_t i = 0; i < schema_.Values(k).size(); ++i) {
    if (Uniform(100) < percent) m |= Mask{1} << i;
  }
  return m;
}

std::string Generator::Atom(bool in_case, int qd) {
  auto enum_op = [&](const std::string& attr, EnumKind k) {
    switch (Uniform(4)) {
      case 0: return fmt::format("{} == {}", attr, Pick(k));
      case 1: return fmt::format("{} != {}", attr, Pick(k));
      case 2: return fmt::format("{} in {}", attr, PickList(k, 3));
      default: return fmt::format("{} not in {}", attr, PickList(k, 2));
    }
  };
  auto set_op = [&](const std::string& attr, EnumKind k) {
    switch (Uniform(5)) {
      case 0: return fmt::format("{} has {}", attr, Pick(k));
      case 1: return fmt::format("{} has_any {}", attr, PickList(k, 3));
      case 2: return fmt::format("{} has_all {}", attr, PickList(k, 2));
      case 3: return fmt::format("{} has_none {}", attr, PickList(k, 2));
      default: return fmt::format("{} is empty", attr);
    }
  };
  auto boolean = [&](const std::string& attr) {
    switch (Uniform(4)) {
      case 0: return attr;
      case 1: return attr + " == true";
      case 2: return attr + " == false";
      default: return "not " + attr;
    }
  };
  if (in_case && Uniform(4) != 0) {
    switch (Uniform(4)) {
      case 0: return enum_op("case.type", EnumKind::kCaseType);
      case 1: return enum_op("case.status", EnumKind::kCaseStatus);
      case 2: return set_op("case.flags", EnumKind::kFlag);
      default: return enum_op("case.role", EnumKind::kRole);
    }
  }
  switch (Uniform(19)) {
    case 0: {
      std::string o = kOrgs[Uniform(3)];
      switch (Uniform(4)) {
        case 0: return fmt::format("requester.org == \"{}\"", o);
        case 1: return fmt::format("requester.org != \"{}\"", o);
        case 2: return fmt::format("requester.org in [\"{}\", \"{}\"]", o, kOrgs[Uniform(3)]);
        default: return fmt::format("requester.org not in [\"{}\"]", o);
      }
    }
    case 1: return enum_op("requester.org_type", EnumKind::kOrgType);
    case 2: return enum_op("requester.role", EnumKind::kUserRole);
    case 3: return enum_op("purpose", EnumKind::kPurpose);
    case 4: return enum_op("declared_purpose", EnumKind::kPurpose);
    case 5: return enum_op("action", EnumKind::kAction);
    case 6: return enum_op("legal_basis", EnumKind::kLegalBasis);
    case 7: return set_op("categories", EnumKind::kCategory);
    case 8: return set_op("subject.roles", EnumKind::kRole);
    case 9: return set_op("subject.flags", EnumKind::kFlag);
    case 10: return enum_op("subject.immigration_concern", EnumKind::kConcern);
    case 11: {
      const char* attrs[] = {"subject.regularisation_pending", "subject.subject_initiated",
                             "subject.consent_to_ie", "requester.named_by_subject"};
      return boolean(attrs[Uniform(4)]);
    }
    case 12: {
      if (Uniform(5) == 0) return "subject.chosen_categories has_any " + PickList(EnumKind::kCategory, 2);
      if (Uniform(4) == 0) return Uniform(2) ? "subject is none" : "not subject is none";
      const char* groups[] = {"subject", "record", "record.case"};
      return fmt::format("{} is {}", groups[Uniform(3)], Uniform(2) ? "known" : "unknown");
    }
    case 13:
      switch (Uniform(3)) {
        case 0: return enum_op("record.collected_as", EnumKind::kRole);
        case 1: return enum_op("record.case.type", EnumKind::kCaseType);
        default: return enum_op("record.case.status", EnumKind::kCaseStatus);
      }
    case 14:
    case 15: {
      if (schema_.context.empty()) return "true";
      const policy::ContextVar& v = schema_.context[size_t(Uniform(int(schema_.context.size())))];
      std::string a = "context." + v.name;
      if (!v.required && Uniform(5) == 0) return fmt::format("{} is {}", a, Uniform(2) ? "known" : "unknown");
      const char* cmp[] = {"==", "!=", "<", "<=", ">", ">="};
      switch (v.type) {
        case ValueType::kBool: return boolean(a);
        case ValueType::kInt: return fmt::format("{} {} {}", a, cmp[Uniform(6)], Uniform(6) - 1);
        case ValueType::kTimestamp: return fmt::format("{} {} {}", a, cmp[Uniform(6)], kStamps[Uniform(3)]);
        case ValueType::kId:
          return Uniform(2) ? fmt::format("{} == \"{}\"", a, kRefs[Uniform(2)])
                            : fmt::format("{} not in [\"{}\", \"{}\"]", a, kRefs[0], kRefs[1]);
        case ValueType::kEnum: return enum_op(a, v.kind);
        case ValueType::kEnumSet: return set_op(a, v.kind);
      }
      return "true";
    }
    case 16:
    case 17: {
      // The checker rejects nested quantifiers (E107).
      if (in_case || qd >= 1) return enum_op("case.role", EnumKind::kRole);
      const char* q[] = {"some", "every", "no"};
      return fmt::format("{} case where ({})", q[Uniform(3)], Condition(1, true, qd + 1));
    }
    default: return Uniform(2) ? "true" : "false";
  }
}

std::string Generator::Condition(int depth, bool in_case, int qd) {
  if (depth <= 0 || Uniform(4) == 0) return Atom(in_case, qd);
  switch (Uniform(3)) {
    case 0: return "(" + Condition(depth - 1, in_case, qd) + " and " + Condition(depth - 1, in_case, qd) + ")";
    case 1: return "(" + Condition(depth - 1, in_case, qd) + " or " + Condition(depth - 1, in_case, qd) + ")";
    default: return "not (" + Condition(depth - 1, in_case, qd) + ")";
  }
}

std::string Generator::Agreement(const std::string& name) {
  std::string when = Uniform(3) ? fmt::format("  when {}\n", Condition(1)) : "";
  std::string withhold = Uniform(2) ? fmt::format("  withhold {}\n", PickList(EnumKind::kCategory, 2)) : "";
  return fmt::format(
      "agreement {} {{\n  parties {}\n  purposes {}\n  data {}\n{}  legal_basis {}\n"
      "  retention \"12 months\"\n  security \"secure transfer\"\n  review 2027-0{}-01\n"
      "  owner \"Generated DPO\"\n{}  obligations {}\n  because \"generated agreement\"\n}}\n\n",
      name, PickList(EnumKind::kOrgType, 2), PickList(EnumKind::kPurpose, 2),
      PickList(EnumKind::kCategory, 4), withhold, PickList(EnumKind::kLegalBasis, 2), 1 + Uniform(9),
      when, PickList(EnumKind::kObligation, 1));
}

std::string Generator::PolicyBody(const BodyOptions& o) {
  std::string out;
  for (int i = 0; i < o.forbids; ++i) {
    std::string obl = Uniform(2) ? fmt::format("  obligations {}\n", PickList(EnumKind::kObligation, 2)) : "";
    out += fmt::format("{} {}_f{} {{\n  when {}\n{}  because \"generated\"\n}}\n\n",
                       Uniform(3) ? "forbid" : "firewall", o.prefix, i, Condition(o.depth), obl);
  }
  for (int i = 0; i < o.permits; ++i) {
    std::string withhold = Uniform(2) ? fmt::format("  withhold {}\n", PickList(EnumKind::kCategory, 2)) : "";
    std::string obl = Uniform(2) ? fmt::format("  obligations {}\n", PickList(EnumKind::kObligation, 2)) : "";
    int g = Uniform(8);
    out += fmt::format("permit {}_p{} {{\n  when {}\n  grant {}\n{}{}  because \"generated\"\n}}\n\n",
                       o.prefix, i, Condition(o.depth),
                       g < 2 ? "all" : g == 2 ? "subject.chosen_categories" : PickList(EnumKind::kCategory, 4),
                       withhold, obl);
  }
  for (int i = 0; i < o.agreements; ++i) out += Agreement(fmt::format("{}_a{}", o.prefix, i));
  for (int i = 0; i < o.normalisations; ++i) {
    out += fmt::format("normalise {}_n{} {{\n  from {}\n  to {}\n  when {}\n  because \"generated\"\n}}\n\n",
                       o.prefix, i, PickList(EnumKind::kPurpose, 2), Pick(EnumKind::kPurpose),
                       Condition(1));
  }
  for (int i = 0; i < o.guarantees; ++i) {
    std::string what;
    switch (Uniform(7)) {
      case 0: case 1: what = "never permit"; break;
      case 2: case 3: what = "never disclose " + PickList(EnumKind::kCategory, 2); break;
      case 4: what = "always permit"; break;
      default: what = "always obligations " + PickList(EnumKind::kObligation, 2); break;
    }
    out += fmt::format("guarantee {}_g{} {{\n  {} when {}\n  because \"generated\"\n}}\n\n", o.prefix, i, what,
                       Condition(2));
  }
  return out;
}

engine::Request Generator::RandomRequest(size_t max_cases) {
  engine::Request r;
  auto idx = [&](EnumKind k) { return uint8_t(Uniform(int(schema_.Values(k).size()))); };
  int o = Uniform(4);
  r.org = o < 3 ? kOrgs[o] : "zz";
  r.org_type = idx(EnumKind::kOrgType);
  r.user_role = idx(EnumKind::kUserRole);
  r.purpose = idx(EnumKind::kPurpose);
  r.action = idx(EnumKind::kAction);
  r.legal_basis = idx(EnumKind::kLegalBasis);
  r.categories = RandomMask(EnumKind::kCategory, 30);
  r.has_subject = Uniform(7) != 0;
  if (r.has_subject) {
    r.roles = RandomMask(EnumKind::kRole, 20);
    r.flags = RandomMask(EnumKind::kFlag, 25);
    r.concern = idx(EnumKind::kConcern);
    r.regularisation_pending = Uniform(2);
    r.subject_initiated = Uniform(2);
    r.consent_to_ie = Uniform(2);
    if (Uniform(3) == 0) {
      // The subject's application choice: sometimes naming this requester.
      r.application_recipient = Uniform(2) ? r.org : std::string(kOrgs[Uniform(3)]);
      r.chosen_categories = RandomMask(EnumKind::kCategory, 30);
    }
    int n = Uniform(int(max_cases) + 1);
    for (int i = 0; i < n; ++i) {
      engine::CaseFacts c{idx(EnumKind::kCaseType), idx(EnumKind::kCaseStatus), idx(EnumKind::kRole),
                          RandomMask(EnumKind::kFlag, 25)};
      r.roles |= Mask{1} << c.role;
      r.cases.push_back(c);
    }
  }
  r.no_subject = !r.has_subject && Uniform(2);
  r.has_record = Uniform(5) < 3;
  if (r.has_record) {
    r.collected_as = idx(EnumKind::kRole);
    r.has_record_case = Uniform(5) < 3;
    if (r.has_record_case) {
      r.record_case_type = idx(EnumKind::kCaseType);
      r.record_case_status = idx(EnumKind::kCaseStatus);
    }
  }
  r.context.resize(schema_.context.size());
  for (size_t i = 0; i < schema_.context.size(); ++i) {
    const policy::ContextVar& v = schema_.context[i];
    engine::ContextValue& cv = r.context[i];
    cv.present = v.required || Uniform(10) < 7;
    if (!cv.present) continue;
    switch (v.type) {
      case ValueType::kBool: cv.boolean = Uniform(2); break;
      case ValueType::kInt: cv.number = Uniform(9) - 2; break;
      case ValueType::kTimestamp: {
        int64_t t = 0;
        policy::ParseTimestamp(kStamps[Uniform(3)], &t);
        cv.number = t + Uniform(3) - 1;
        break;
      }
      case ValueType::kId: {
        int k = Uniform(3);
        cv.id = k < 2 ? kRefs[k] : "zz";
        break;
      }
      case ValueType::kEnum: cv.mask = Mask{1} << idx(v.kind); break;
      case ValueType::kEnumSet: cv.mask = RandomMask(v.kind, 30); break;
    }
  }
  return r;
}

void Generator::Mutate(engine::Request& r, size_t max_cases) {
  engine::Request fresh = RandomRequest(max_cases);
  auto flip = [&](Mask& m, EnumKind k) { m ^= Mask{1} << Uniform(int(schema_.Values(k).size())); };
  int n = 1 + Uniform(3);
  for (int i = 0; i < n; ++i) {
    switch (Uniform(16)) {
      case 0: r.org = fresh.org; break;
      case 1: r.org_type = fresh.org_type; break;
      case 2: r.user_role = fresh.user_role; break;
      case 3: r.purpose = fresh.purpose; break;
      case 4: r.action = fresh.action; break;
      case 5: r.legal_basis = fresh.legal_basis; break;
      case 6: flip(r.categories, EnumKind::kCategory); break;
      case 7:
        if (r.has_subject) {
          flip(r.roles, EnumKind::kRole);
          for (const engine::CaseFacts& c : r.cases) r.roles |= Mask{1} << c.role;
        }
        break;
      case 8: if (r.has_subject) flip(r.flags, EnumKind::kFlag); break;
      case 9:
        if (r.has_subject) {
          r.concern = fresh.has_subject ? fresh.concern : r.concern;
          r.regularisation_pending ^= Uniform(2) == 0;
          r.subject_initiated ^= Uniform(2) == 0;
          r.consent_to_ie ^= Uniform(2) == 0;
        }
        break;
      case 10: {
        // Add, drop or change a case.
        if (!r.has_subject) break;
        int what = Uniform(3);
        if (what == 0 && r.cases.size() < max_cases) {
          engine::CaseFacts c{uint8_t(Uniform(int(schema_.Values(EnumKind::kCaseType).size()))),
                              uint8_t(Uniform(int(schema_.Values(EnumKind::kCaseStatus).size()))),
                              uint8_t(Uniform(int(schema_.Values(EnumKind::kRole).size())))};
          r.cases.push_back(c);
          r.roles |= Mask{1} << c.role;
        } else if (what == 1 && !r.cases.empty()) {
          r.cases.erase(r.cases.begin() + Uniform(int(r.cases.size())));
        } else if (!r.cases.empty()) {
          engine::CaseFacts& c = r.cases[size_t(Uniform(int(r.cases.size())))];
          c.status = uint8_t(Uniform(int(schema_.Values(EnumKind::kCaseStatus).size())));
          c.type = uint8_t(Uniform(int(schema_.Values(EnumKind::kCaseType).size())));
        }
        break;
      }
      case 11: {
        // The subject appears or disappears.
        bool had = r.has_subject;
        engine::Request keep = r;
        r.has_subject = fresh.has_subject;
        r.roles = fresh.roles;
        r.flags = fresh.flags;
        r.concern = fresh.concern;
        r.regularisation_pending = fresh.regularisation_pending;
        r.subject_initiated = fresh.subject_initiated;
        r.consent_to_ie = fresh.consent_to_ie;
        r.cases = fresh.cases;
        r.no_subject = fresh.no_subject;
        r.application_recipient = fresh.application_recipient;
        r.chosen_categories = fresh.chosen_categories;
        if (had == r.has_subject && Uniform(2)) r = keep;
        break;
      }
      case 12:
        r.has_record = fresh.has_record;
        r.collected_as = fresh.collected_as;
        r.has_record_case = fresh.has_record_case;
        r.record_case_type = fresh.record_case_type;
        r.record_case_status = fresh.record_case_status;
        break;
      case 13:
      case 14:
        if (!r.context.empty()) {
          size_t k = size_t(Uniform(int(r.context.size())));
          r.context[k] = fresh.context[k];
        }
        break;
      default: r.categories = fresh.categories; break;
    }
  }
}

std::string WritePack(const std::string& dir, const std::string& name, const std::string& schema_dir,
                      const std::string& body, const std::string& layer) {
  namespace fs = std::filesystem;
  fs::path pack = fs::path(dir) / name;
  fs::remove_all(pack);
  fs::create_directories(pack);
  std::ofstream(pack / "pack.fbp") << "pack " << name << " {\n  layer " << layer << "\n  import \""
                                   << fs::absolute(schema_dir).string() << "\"\n}\n";
  std::ofstream(pack / "items.fbp") << body;
  return pack.string();
}

std::string Generator::Agreements(int count, const std::string& prefix) {
  std::string out;
  for (int i = 0; i < count; ++i) out += Agreement(prefix + std::to_string(i)) + "\n";
  return out;
}

std::string WritePackSplit(const std::string& dir, const std::string& name,
                           const std::string& schema_dir, const std::string& body, int files,
                           uint64_t shuffle_seed) {
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

std::string WriteSyntheticSchema(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path pack = fs::path(dir) / "schema";
  fs::create_directories(pack);
  std::ofstream(pack / "pack.fbp") << "pack schema {\n  layer national\n}\n";
  std::ofstream(pack / "schema.fbp") << SyntheticSchemaText();
  return pack.string();
}

}  // namespace firebreak::engine::testing
