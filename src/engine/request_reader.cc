// RequestReader: the wire form read in one pass of Boost.JSON's SAX parser
// (`basic_parser`) straight into a `Request`, with no JSON tree.
//
// The fast path only ever accepts: anything it is not sure of (a syntax
// error, an unknown field or value, a wrong type, a missing field, a key given
// twice, a field split by an escape too long for the parser's buffer is still
// fine) makes it give up, and `Read` then runs the reference reader
// (`ReadRequest` over `boost::json::parse`) on the same text, so every error
// is the reference reader's own, word for word. What the fast path accepts it
// must read exactly as the reference reader does; request_reader_test and
// request_fuzz compare the two.
#include <cstring>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "engine/request.h"
#include "policy/parser.h"

namespace firebreak::engine {
namespace json = boost::json;
using policy::EnumKind;
using policy::Schema;
using policy::ValueType;

namespace {

// Every field of the wire form, across its objects.
enum Field : uint8_t {
  kNone,
  // the request
  kId, kRequester, kPurpose, kAction, kCategories, kLegalBasis, kSubject, kRecord, kContext,
  // requester
  kOrg, kOrgType, kUserRole,
  // subject
  kRoles, kFlags, kConcern, kRegularisationPending, kSubjectInitiated, kConsentToIe, kCases, kApplication,
  // subject.application
  kRecipient, kChosenCategories,
  // subject.cases[i]
  kCaseType, kCaseStatus, kCaseRole, kCaseFlags,
  // record
  kCollectedAs, kRecordCase,
  // record.case
  kRecordCaseType, kRecordCaseStatus,
  // context.<name>
  kContextValue,
};

// The objects of the wire form.
enum Obj : uint8_t { kTopObj, kRequesterObj, kSubjectObj, kApplicationObj, kCaseObj, kRecordObj, kRecordCaseObj, kContextObj, kObjCount };

struct Key {
  std::string_view name;
  Field field;
};

// Each object's keys; a key's position is its bit in the frame's `seen`.
constexpr Key kTopKeys[] = {{"id", kId}, {"requester", kRequester}, {"purpose", kPurpose}, {"action", kAction},
                            {"categories", kCategories}, {"legal_basis", kLegalBasis}, {"subject", kSubject},
                            {"record", kRecord}, {"context", kContext}};
constexpr Key kRequesterKeys[] = {{"org", kOrg}, {"org_type", kOrgType}, {"role", kUserRole}};
constexpr Key kSubjectKeys[] = {{"roles", kRoles}, {"flags", kFlags}, {"immigration_concern", kConcern},
                                {"regularisation_pending", kRegularisationPending},
                                {"subject_initiated", kSubjectInitiated}, {"consent_to_ie", kConsentToIe},
                                {"cases", kCases}, {"application", kApplication}};
constexpr Key kApplicationKeys[] = {{"recipient", kRecipient}, {"categories", kChosenCategories}};
constexpr Key kCaseKeys[] = {{"type", kCaseType}, {"status", kCaseStatus}, {"role", kCaseRole}, {"flags", kCaseFlags}};
constexpr Key kRecordKeys[] = {{"collected_as", kCollectedAs}, {"case", kRecordCase}};
constexpr Key kRecordCaseKeys[] = {{"type", kRecordCaseType}, {"status", kRecordCaseStatus}};

// Bits of the keys that must be present (the reference reader's `Need`).
constexpr uint64_t kRequired[kObjCount] = {
    /*top*/ 0b000111110, /*requester*/ 0b111, /*subject*/ 0b01111111, /*application*/ 0b11,
    /*case*/ 0b0111, /*record*/ 0b01, /*record.case*/ 0b11, /*context*/ 0};

template <size_t N>
constexpr std::pair<const Key*, size_t> Keys(const Key (&k)[N]) {
  return {k, N};
}
constexpr std::pair<const Key*, size_t> kKeys[kObjCount] = {
    Keys(kTopKeys),  Keys(kRequesterKeys), Keys(kSubjectKeys),     Keys(kApplicationKeys),
    Keys(kCaseKeys), Keys(kRecordKeys),    Keys(kRecordCaseKeys), {nullptr, 0}};

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The names are short (schema values, field names): the first and last 8
// (or 4) bytes and the length pick the slot.
uint64_t HashName(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h;
  if (n >= 8) {
    h = Load64(p) * 0x9E3779B97F4A7C15ull ^ Load64(p + n - 8) * 0xC2B2AE3D27D4EB4Full;
    if (n > 16) h ^= Load64(p + n / 2 - 4) * 0x165667B19E3779F9ull;
  } else if (n >= 4) {
    h = (uint64_t{Load32(p)} << 32 | Load32(p + n - 4)) * 0x9E3779B97F4A7C15ull;
  } else {
    h = 0;
    for (size_t i = 0; i < n; ++i) h = h << 8 | static_cast<unsigned char>(p[i]);
    h *= 0x9E3779B97F4A7C15ull;
  }
  h ^= n * 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 29) ^ (h >> 47);
}

// Equal names, given equal lengths.
bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    if (Load64(a) != Load64(b) || Load64(a + n - 8) != Load64(b + n - 8)) return false;
    return n <= 16 || std::memcmp(a + 8, b + 8, n - 16) == 0;
  }
  if (n >= 4) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Names to small indices: open addressing, power-of-two slots, every hit
// confirmed by comparing the whole name.
class NameTable {
 public:
  void Build(const std::vector<std::string_view>& names) {
    size_t n = 4;
    while (n < names.size() * 2) n *= 2;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    for (size_t i = 0; i < names.size(); ++i) {
      size_t at = HashName(names[i]) & mask_;
      while (slots_[at].index >= 0) {
        if (slots_[at].name == names[i]) break;  // a repeated name keeps its first index
        at = (at + 1) & mask_;
      }
      if (slots_[at].index < 0) slots_[at] = Slot{names[i], static_cast<int>(i)};
    }
  }
  int Find(std::string_view s) const {
    for (size_t at = HashName(s) & mask_;; at = (at + 1) & mask_) {
      const Slot& slot = slots_[at];
      if (slot.index < 0) return -1;
      if (slot.name.size() == s.size() && SameBytes(slot.name.data(), s.data(), s.size())) return slot.index;
    }
  }

 private:
  struct Slot {
    std::string_view name;
    int index = -1;
  };
  std::vector<Slot> slots_{Slot{}};
  size_t mask_ = 0;
};

}  // namespace

struct RequestReader::Tables {
  std::array<NameTable, policy::kEnumKindCount> values;
  std::array<NameTable, kObjCount> keys;  // position in the object's key list
  NameTable context;
  uint64_t required_context = 0;
  bool usable = true;  // false when the schema is outside what the fast path handles
};

namespace {

using Tables = RequestReader::Tables;

// The SAX handler: a stack of the objects and arrays open at this point, and
// the field the next value is for. Any surprise returns false (give up).
class Handler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  Handler(const Tables& t, const Schema& schema, Request* r) : t_(t), schema_(schema), r_(*r) {}

  // True when the document was a complete request.
  bool Finish() const {
    if (!finished_) return false;
    for (size_t i = 0; i < r_.context.size(); ++i) {
      if ((t_.required_context >> i & 1) && !r_.context[i].present) return false;
    }
    return true;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code& ec) {
    if (depth_ == 0) {
      if (finished_) return GiveUp(ec);
      return Push(ec, kTopObj);
    }
    Frame& f = frames_[depth_ - 1];
    if (f.is_array) {
      if (f.field != kCases) return GiveUp(ec);
      r_.cases.emplace_back();
      return Push(ec, kCaseObj);
    }
    switch (f.field) {
      case kRequester: return Push(ec, kRequesterObj);
      case kSubject: r_.has_subject = true; return Push(ec, kSubjectObj);
      case kRecord: r_.has_record = true; return Push(ec, kRecordObj);
      case kContext: return Push(ec, kContextObj);
      case kApplication: return Push(ec, kApplicationObj);
      case kRecordCase: r_.has_record_case = true; return Push(ec, kRecordCaseObj);
      default: return GiveUp(ec);
    }
  }

  bool on_object_end(size_t, json::error_code& ec) {
    Frame& f = frames_[--depth_];
    if ((f.seen & kRequired[f.obj]) != kRequired[f.obj]) return GiveUp(ec);
    if (f.obj == kApplicationObj && r_.application_recipient.empty()) return GiveUp(ec);
    if (f.obj == kCaseObj) r_.roles |= Mask{1} << r_.cases.back().role;
    if (depth_ == 0) finished_ = true;
    return true;
  }

  bool on_array_begin(json::error_code& ec) {
    if (depth_ == 0 || depth_ == kMaxDepth) return GiveUp(ec);
    Frame& f = frames_[depth_ - 1];
    if (f.is_array) return GiveUp(ec);
    Frame& a = frames_[depth_++];
    a = Frame{};
    a.is_array = true;
    a.field = f.field;
    switch (f.field) {
      case kCategories: a.kind = EnumKind::kCategory; a.target = &r_.categories; break;
      case kRoles: a.kind = EnumKind::kRole; a.target = &r_.roles; break;
      case kFlags: a.kind = EnumKind::kFlag; a.target = &r_.flags; break;
      case kChosenCategories: a.kind = EnumKind::kCategory; a.target = &r_.chosen_categories; break;
      case kCaseFlags: a.kind = EnumKind::kFlag; a.target = &r_.cases.back().flags; break;
      case kCases: break;
      case kContextValue: {
        const policy::ContextVar& var = schema_.context[f.context];
        if (var.type != ValueType::kEnumSet) return GiveUp(ec);
        ContextValue& cv = r_.context[f.context];
        cv.present = true;
        a.kind = var.kind;
        a.target = &cv.mask;
        break;
      }
      default: return GiveUp(ec);
    }
    return true;
  }

  bool on_array_end(size_t, json::error_code&) {
    --depth_;
    return true;
  }

  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }

  bool on_key(json::string_view sv, size_t, json::error_code& ec) {
    std::string_view s = Whole(sv);
    Frame& f = frames_[depth_ - 1];
    int at = f.obj == kContextObj ? t_.context.Find(s) : t_.keys[f.obj].Find(s);
    part_.clear();
    if (at < 0 || (f.seen >> at & 1)) return GiveUp(ec);  // unknown, or given twice
    f.seen |= uint64_t{1} << at;
    if (f.obj == kContextObj) {
      f.field = kContextValue;
      f.context = static_cast<uint16_t>(at);
    } else {
      f.field = kKeys[f.obj].first[at].field;
    }
    return true;
  }

  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }

  bool on_string(json::string_view sv, size_t, json::error_code& ec) {
    bool ok = String(Whole(sv));
    part_.clear();
    return ok || GiveUp(ec);
  }

  bool on_number_part(json::string_view, json::error_code&) { return true; }

  bool on_int64(int64_t i, json::string_view, json::error_code& ec) {
    if (depth_ == 0) return GiveUp(ec);
    Frame& f = frames_[depth_ - 1];
    if (f.is_array || f.field != kContextValue || schema_.context[f.context].type != ValueType::kInt) {
      return GiveUp(ec);
    }
    ContextValue& cv = r_.context[f.context];
    cv.present = true;
    cv.number = i;
    return true;
  }
  bool on_uint64(uint64_t, json::string_view, json::error_code& ec) { return GiveUp(ec); }
  bool on_double(double, json::string_view, json::error_code& ec) { return GiveUp(ec); }

  bool on_bool(bool b, json::error_code& ec) {
    if (depth_ == 0) return GiveUp(ec);
    Frame& f = frames_[depth_ - 1];
    if (f.is_array) return GiveUp(ec);
    switch (f.field) {
      case kRegularisationPending: r_.regularisation_pending = b; return true;
      case kSubjectInitiated: r_.subject_initiated = b; return true;
      case kConsentToIe: r_.consent_to_ie = b; return true;
      case kContextValue:
        if (schema_.context[f.context].type != ValueType::kBool) return GiveUp(ec);
        r_.context[f.context].present = true;
        r_.context[f.context].boolean = b;
        return true;
      default: return GiveUp(ec);
    }
  }

  // null is "not given" where the reference reader skips a null value.
  bool on_null(json::error_code& ec) {
    if (depth_ == 0) return GiveUp(ec);
    Frame& f = frames_[depth_ - 1];
    if (f.is_array) return GiveUp(ec);
    switch (f.field) {
      case kSubject: case kRecord: case kContext: case kApplication: case kRecordCase: case kContextValue:
        return true;
      default: return GiveUp(ec);
    }
  }

  bool on_comment_part(json::string_view, json::error_code& ec) { return GiveUp(ec); }
  bool on_comment(json::string_view, json::error_code& ec) { return GiveUp(ec); }

 private:
  static constexpr size_t kMaxDepth = 8;

  struct Frame {
    bool is_array = false;
    Obj obj = kTopObj;
    Field field = kNone;  // objects: the field of the value that comes next; arrays: the array's field
    EnumKind kind = EnumKind::kPurpose;  // enum arrays
    uint16_t context = 0;                // kContextValue: the context variable
    uint64_t seen = 0;                   // objects: the keys given so far
    Mask* target = nullptr;              // enum arrays
  };

  static bool GiveUp(json::error_code& ec) {
    ec = json::error::syntax;  // any error: the caller falls back to the reference reader
    return false;
  }

  std::string_view Whole(json::string_view s) {
    if (part_.empty()) return {s.data(), s.size()};
    part_.append(s.data(), s.size());
    return part_;
  }

  bool Push(json::error_code& ec, Obj obj) {
    if (depth_ == kMaxDepth) return GiveUp(ec);
    Frame& f = frames_[depth_++];
    f = Frame{};
    f.obj = obj;
    return true;
  }

  bool Enum(EnumKind k, std::string_view s, uint8_t* out) const {
    int idx = t_.values[size_t(k)].Find(s);
    if (idx < 0) return false;
    *out = static_cast<uint8_t>(idx);
    return true;
  }

  bool String(std::string_view s) {
    if (depth_ == 0) return false;
    Frame& f = frames_[depth_ - 1];
    if (f.is_array) {
      if (f.field == kCases) return false;
      uint8_t idx;
      if (!Enum(f.kind, s, &idx)) return false;
      *f.target |= Mask{1} << idx;
      return true;
    }
    switch (f.field) {
      case kId: r_.id.assign(s); return true;
      case kOrg: r_.org.assign(s); return true;
      case kOrgType: return Enum(EnumKind::kOrgType, s, &r_.org_type);
      case kUserRole: return Enum(EnumKind::kUserRole, s, &r_.user_role);
      case kPurpose: return Enum(EnumKind::kPurpose, s, &r_.purpose);
      case kAction: return Enum(EnumKind::kAction, s, &r_.action);
      case kLegalBasis: return Enum(EnumKind::kLegalBasis, s, &r_.legal_basis);
      case kSubject:
        if (s != "none") return false;
        r_.no_subject = true;
        return true;
      case kConcern: return Enum(EnumKind::kConcern, s, &r_.concern);
      case kRecipient: r_.application_recipient.assign(s); return true;
      case kCaseType: return Enum(EnumKind::kCaseType, s, &r_.cases.back().type);
      case kCaseStatus: return Enum(EnumKind::kCaseStatus, s, &r_.cases.back().status);
      case kCaseRole: return Enum(EnumKind::kRole, s, &r_.cases.back().role);
      case kCollectedAs: return Enum(EnumKind::kRole, s, &r_.collected_as);
      case kRecordCaseType: return Enum(EnumKind::kCaseType, s, &r_.record_case_type);
      case kRecordCaseStatus: return Enum(EnumKind::kCaseStatus, s, &r_.record_case_status);
      case kContextValue: {
        const policy::ContextVar& var = schema_.context[f.context];
        ContextValue& cv = r_.context[f.context];
        cv.present = true;
        switch (var.type) {
          case ValueType::kTimestamp: return policy::ParseTimestamp(s, &cv.number);
          case ValueType::kId: cv.id.assign(s); return true;
          case ValueType::kEnum: {
            uint8_t idx;
            if (!Enum(var.kind, s, &idx)) return false;
            cv.mask = Mask{1} << idx;
            return true;
          }
          default: return false;
        }
      }
      default: return false;
    }
  }

  const Tables& t_;
  const Schema& schema_;
  Request& r_;
  std::array<Frame, kMaxDepth> frames_;
  size_t depth_ = 0;
  bool finished_ = false;
  std::string part_;  // a string or key the parser hands over in parts
};

// Empties `r`, keeping the storage of its strings and vectors.
void Reset(Request* r, size_t context_size) {
  std::string id = std::move(r->id), org = std::move(r->org), recipient = std::move(r->application_recipient);
  std::vector<CaseFacts> cases = std::move(r->cases);
  std::vector<ContextValue> context = std::move(r->context);
  *r = Request{};
  id.clear();
  org.clear();
  recipient.clear();
  cases.clear();
  r->id = std::move(id);
  r->org = std::move(org);
  r->application_recipient = std::move(recipient);
  r->cases = std::move(cases);
  context.resize(context_size);
  for (ContextValue& cv : context) {
    std::string kept = std::move(cv.id);
    cv = ContextValue{};
    kept.clear();
    cv.id = std::move(kept);
  }
  r->context = std::move(context);
}

}  // namespace

RequestReader::RequestReader(const Schema& schema) : schema_(schema) {
  auto t = std::make_unique<Tables>();
  for (size_t k = 0; k < policy::kEnumKindCount; ++k) {
    const auto& values = schema.Values(EnumKind(k));
    std::vector<std::string_view> names(values.begin(), values.end());
    t->values[k].Build(names);
  }
  for (size_t o = 0; o < kObjCount; ++o) {
    std::vector<std::string_view> names;
    for (size_t i = 0; i < kKeys[o].second; ++i) names.push_back(kKeys[o].first[i].name);
    t->keys[o].Build(names);
  }
  std::vector<std::string_view> vars;
  for (const policy::ContextVar& v : schema.context) vars.push_back(v.name);
  t->context.Build(vars);
  for (size_t i = 0; i < schema.context.size() && i < 64; ++i) {
    if (schema.context[i].required) t->required_context |= uint64_t{1} << i;
  }
  // A context variable's bit in the seen mask is its index: more than 64,
  // and every request goes to the reference reader.
  t->usable = schema.context.size() <= 64;
  tables_ = std::move(t);
}

RequestReader::~RequestReader() = default;

bool RequestReader::ReadFast(std::string_view text, Request* out) const {
  if (!tables_->usable) return false;
  Reset(out, schema_.context.size());
  json::basic_parser<Handler> parser(json::parse_options{}, *tables_, schema_, out);
  json::error_code ec;
  size_t n = parser.write_some(false, text.data(), text.size(), ec);
  return !ec && n == text.size() && parser.done() && parser.handler().Finish();
}

tl::expected<void, FieldError> RequestReader::Read(std::string_view text, Request* out) const {
  if (ReadFast(text, out)) return {};
  // The reference reader, with the JSON in a buffer on the stack (spilling
  // to the heap only for a large text).
  alignas(std::max_align_t) unsigned char scratch[16384];
  json::monotonic_resource arena(scratch, sizeof scratch);
  json::error_code ec;
  json::value v = json::parse(text, ec, &arena);
  if (ec) return tl::make_unexpected(FieldError{"", "malformed JSON: " + ec.message()});
  auto r = ReadRequest(v, schema_);
  if (!r) return tl::make_unexpected(std::move(r.error()));
  *out = std::move(*r);
  return {};
}

}  // namespace firebreak::engine
