// The checked, fully resolved form of a policy set: the schema, conditions as
// a typed `Cond` tree over request attributes, and the rules, agreements,
// normalisations and guarantees that use them. The engine compiles this to its
// evaluation program; the verifier encodes exactly this into SMT. Both read
// the same structure, so they cannot disagree about what a rule means.
//
// Semantics (docs/language.md): conditions are three-valued (Kleene); a
// forbid matches on true or unknown, a permit on true only, a normalisation
// applies on true or unknown, a guarantee's condition counts when true or
// unknown.
//
// Thread model: immutable after checking; share as `shared_ptr<const PolicySet>`.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/source.h"

namespace firebreak::policy {

// The twelve vocabularies every schema declares.
enum class EnumKind : uint8_t {
  kPurpose, kAction, kOrgType, kUserRole, kRole, kFlag, kCategory,
  kCaseType, kCaseStatus, kConcern, kObligation, kLegalBasis,
};
inline constexpr size_t kEnumKindCount = 12;
const char* EnumKindName(EnumKind kind);
bool LookupEnumKind(std::string_view name, EnumKind* out);

inline constexpr size_t kMaxEnumValues = 64;  // values are bits of a uint64_t mask
using Mask = uint64_t;

enum class ValueType : uint8_t { kBool, kInt, kTimestamp, kId, kEnum, kEnumSet };

struct ContextVar {
  std::string name;
  ValueType type = ValueType::kBool;
  EnumKind kind = EnumKind::kPurpose;  // for kEnum / kEnumSet
  bool required = false;
};

class Schema {
 public:
  std::string name;
  std::array<std::vector<std::string>, kEnumKindCount> values;
  std::vector<ContextVar> context;

  const std::vector<std::string>& Values(EnumKind k) const { return values[size_t(k)]; }
  // Index of `value` in kind `k`, or -1.
  int Find(EnumKind k, std::string_view value) const;
  // Mask with one bit per value of `k`.
  Mask All(EnumKind k) const;
  int FindContext(std::string_view name) const;
  // "[a, b]" of the values in `m`, in schema order.
  std::vector<std::string> Names(EnumKind k, Mask m) const;

  void BuildIndex();

 private:
  // Looked up by string_view without building a string (transparent hash).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameIndex = std::unordered_map<std::string, int, NameHash, std::equal_to<>>;
  std::array<NameIndex, kEnumKindCount> index_;
  NameIndex context_index_;
};

// Request attributes a condition can read.
enum class Attr : uint8_t {
  kRequesterOrg,           // id
  kRequesterOrgType,       // enum org_type
  kRequesterRole,          // enum user_role
  kPurpose,                // enum purpose, after normalisation
  kDeclaredPurpose,        // enum purpose
  kAction,                 // enum action
  kCategories,             // set of category
  kLegalBasis,             // enum legal_basis
  kSubject,                // group: known iff the request has a subject
  kSubjectRoles,           // set of role
  kSubjectFlags,           // set of flag
  kSubjectConcern,         // enum concern
  kSubjectRegularisationPending,  // bool
  kSubjectSubjectInitiated,       // bool
  kSubjectConsentToIe,            // bool
  kSubjectChosenCategories,       // set of category: what the subject chose to send (X1)
  kRequesterNamedBySubject,       // bool: requester.org is the body the subject named (X1)
  kNoSubject,                     // bool, always known: the request is about no person
  kCaseType,               // enum case_type, inside a quantifier
  kCaseStatus,             // enum case_status, inside a quantifier
  kCaseRole,               // enum role, inside a quantifier
  kCaseFlags,              // set of flag, inside a quantifier
  kRecord,                 // group: known iff the request has a record
  kRecordCollectedAs,      // enum role
  kRecordCase,             // group: known iff the record has a case
  kRecordCaseType,         // enum case_type
  kRecordCaseStatus,       // enum case_status
  kContext,                // context.NAME (see Cond::context)
};
const char* AttrName(Attr a);

enum class CmpOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

enum class CondOp : uint8_t {
  kTrue, kFalse,
  kAnd, kOr, kNot,           // children
  kSome, kEvery,             // children[0] is the body, read per case
  kBoolAttr,                 // attr is true
  kEnumIn,                   // attr's value ∈ mask
  kSetHasAny,                // attr's set ∩ mask ≠ ∅
  kSetHasAll,                // mask ⊆ attr's set
  kSetIsEmpty,               // attr's set = ∅
  kIdIn,                     // attr ∈ ids
  kIntCmp,                   // attr cmp number (int or timestamp)
  kKnown,                    // group (or context value) attr is known
};

using CondId = uint32_t;

struct Cond {
  CondOp op = CondOp::kTrue;
  Attr attr = Attr::kPurpose;
  EnumKind kind = EnumKind::kPurpose;  // the enum kind of attr's values (kEnumIn, kSet*)
  CmpOp cmp = CmpOp::kEq;
  uint16_t context = 0;                // index into Schema::context for Attr::kContext
  Mask mask = 0;
  int64_t number = 0;
  std::vector<std::string> ids;        // kIdIn, sorted
  std::vector<CondId> children;
  Span span;
};

enum class RuleKind : uint8_t { kFirewall, kForbid, kPermit, kAgreement };
inline bool IsForbid(RuleKind k) { return k == RuleKind::kFirewall || k == RuleKind::kForbid; }
const char* RuleKindName(RuleKind k);

enum class Layer : uint8_t { kNational, kHolder, kAgreement };
const char* LayerName(Layer l);

struct AgreementInfo {
  Mask parties = 0;      // org_type
  Mask purposes = 0;     // purpose
  Mask legal_bases = 0;  // legal_basis
  std::string retention, security, owner;
  int64_t review = 0;    // Unix seconds
};

struct Rule {
  std::string name;
  RuleKind kind = RuleKind::kForbid;
  CondId cond = 0;       // for agreements: parties ∧ purposes ∧ legal basis ∧ when
  Mask grant = 0;        // categories (permits)
  bool grant_chosen = false;  // also grants subject.chosen_categories (`grant subject.chosen_categories`)
  Mask withhold = 0;     // categories (permits)
  Mask obligations = 0;
  std::string because, source;
  std::string pack;
  Layer layer = Layer::kNational;
  Span span;
  std::string canonical;  // canonical text, for pins and the policy hash
  std::unique_ptr<AgreementInfo> agreement;  // set for agreements
};

struct Normalisation {
  std::string name;
  Mask from = 0;  // purposes
  int to = 0;     // purpose index
  CondId cond = 0;
  std::string because, source;
  std::string pack;
  Span span;
};

// `always permit` counts only requests whose condition is true (not unknown):
// requiring a permit on unknown facts would be failing open.
enum class GuaranteeKind : uint8_t { kNeverPermit, kNeverDisclose, kAlwaysObligations, kAlwaysPermit };

struct Guarantee {
  std::string name;
  GuaranteeKind kind = GuaranteeKind::kNeverPermit;
  Mask mask = 0;  // categories (never disclose) or obligations (always obligations)
  CondId cond = 0;
  std::string because, source;
  std::string pack;
  Span span;
  std::string canonical;  // canonical text, for the deployment's required guarantees
};

// A `pin` a pack declares: the firewall rule it relies on, unchanged.
struct Pin {
  std::string rule;
  std::string hash;  // "sha256:<hex>"
  std::string pack;  // the pack that declares it
  Span span;
};

struct PackInfo {
  std::string name;
  std::string dir;
  Layer layer = Layer::kNational;
  std::string title;
};

struct PolicySet {
  std::shared_ptr<const Schema> schema;
  std::vector<Cond> conds;
  std::vector<Rule> rules;  // sorted by name
  std::vector<Normalisation> normalisations;
  std::vector<Guarantee> guarantees;
  std::vector<PackInfo> packs;
  std::vector<Pin> pins;  // every pin the set's packs declare (all verified at load)
  std::string hash;  // "sha256:<hex>" of the canonical text
  // "sha256:<hex>" of each item's canonical text, by "<kind> <name>"
  // ("schema uk", "set firewall_purposes", "normalise N1_…", "firewall A1_…",
  // "guarantee GA1_…", …): what a deployment can require unchanged.
  std::map<std::string, std::string> item_hashes;
  std::shared_ptr<const SourceManager> sources;  // for rendering spans

  const Cond& cond(CondId id) const { return conds[id]; }
};

}  // namespace firebreak::policy
