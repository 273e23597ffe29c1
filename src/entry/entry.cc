#include "entry/entry.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <stdexcept>

#include <boost/container/small_vector.hpp>

#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"

namespace firebreak::entry {
namespace {

namespace json = boost::json;

// A JSON string as RFC 8785 writes it: only '"', '\\' and control bytes
// escaped, the short forms where JSON has them (base/encoding.h's writer,
// which Boost.JSON's serializer also agrees with).
void CanonicalString(std::string_view str, std::string& out) { AppendJsonString(str, &out); }

template <class Int>
void CanonicalInt(Int n, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

void Canonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: CanonicalInt(v.get_int64(), out); break;
    case json::kind::uint64: CanonicalInt(v.get_uint64(), out); break;
    case json::kind::double_: out += fmt::format("{}", v.get_double()); break;
    case json::kind::string: CanonicalString(v.get_string(), out); break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        Canonical(e, out);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      // Members by key (UTF-8 bytes compare as RFC 8785's UTF-16 order for
      // the ASCII keys entries have); no allocation for the usual sizes.
      boost::container::small_vector<const json::key_value_pair*, 32> kvs;
      for (const auto& kv : v.get_object()) kvs.push_back(&kv);
      std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out += '{';
      bool first = true;
      for (auto* kv : kvs) {
        if (!first) out += ',';
        first = false;
        CanonicalString(kv->key(), out);
        out += ':';
        Canonical(kv->value(), out);
      }
      out += '}';
      break;
    }
  }
}

std::string EntryKey(const AuditKey& key, std::string_view request_id) {
  std::string label("firebreak entry seal v3");
  label += '\0';
  label += request_id;
  return std::string(DigestBytes(HmacSha256Once(key.secret, label)));
}

}  // namespace

std::string CanonicalJson(const json::value& v) {
  std::string out;
  out.reserve(2048);
  Canonical(v, out);
  return out;
}

Result<AuditKey> AuditKeyFromHex(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.remove_suffix(1);
  }
  auto secret = HexDecode(hex);
  if (!secret || secret->size() != 32) {
    return tl::make_unexpected(InvalidArgument("an audit key is 64 hex digits (32 bytes)"));
  }
  std::string label("firebreak audit key id");
  label += '\0';
  label += *secret;
  AuditKey k;
  k.id = HexEncode(DigestBytes(Sha256(label))).substr(0, 16);
  k.secret = std::move(*secret);
  return k;
}

Result<AuditKey> ReadAuditKey(const std::string& path) {
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto key = AuditKeyFromHex(text);
  if (!key) return tl::make_unexpected(key.error().WithContext(path));
  return key;
}

const AuditKey* Keyring::Find(std::string_view id) const {
  for (const AuditKey& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

Result<std::string> FitSealed(json::object base, const std::vector<json::value>& cases,
                              const std::vector<json::value>& records,
                              const std::vector<std::string>& rules) {
  // One object, its lists set to the listed prefixes each time it is written.
  json::value v(std::move(base));
  json::object& o = v.get_object();
  return FitSealedText(cases.size(), records.size(), rules.size(),
                       [&](std::string& out, size_t n_cases, size_t n_records, size_t n_rules) {
                         o["cases"] = json::array(cases.begin(), cases.begin() + std::ptrdiff_t(n_cases));
                         o["records"] = json::array(records.begin(), records.begin() + std::ptrdiff_t(n_records));
                         json::array u;
                         for (size_t i = 0; i < n_rules; ++i) u.push_back(json::string(rules[i]));
                         o["rules"] = std::move(u);
                         auto count = [&](const char* key, size_t all, size_t listed) {
                           if (all > listed) {
                             o[key] = all - listed;
                           } else {
                             o.erase(key);
                           }
                         };
                         count("cases_not_listed", cases.size(), n_cases);
                         count("records_not_listed", records.size(), n_records);
                         count("rules_not_listed", rules.size(), n_rules);
                         Canonical(v, out);
                       });
}

Result<std::string> FitSealedText(
    size_t cases, size_t records, size_t rules,
    const std::function<void(std::string& out, size_t n_cases, size_t n_records, size_t n_rules)>& write) {
  size_t n_cases = std::min(cases, kMaxListed);
  size_t n_records = std::min(records, kMaxListed);
  size_t n_rules = rules;
  std::string plain;
  plain.reserve(kSealedSize);
  write(plain, n_cases, n_records, n_rules);
  while (plain.size() > kSealedSize) {
    if (n_records > 0) {
      --n_records;
    } else if (n_cases > 0) {
      --n_cases;
    } else if (n_rules > 0) {
      --n_rules;
    } else {
      return tl::make_unexpected(Internal(fmt::format(
          "the sealed part does not fit {} bytes even without cases, records and rules", kSealedSize)));
    }
    plain.clear();
    write(plain, n_cases, n_records, n_rules);
  }
  plain.append(kSealedSize - plain.size(), ' ');
  return plain;
}

Result<std::string> SealText(const AuditKey& key, std::string_view request_id, std::string_view plaintext) {
  FB_ASSIGN_OR_RETURN(std::string sealed, SealAes256Gcm(EntryKey(key, request_id), plaintext, request_id));
  return Base64Encode(sealed);
}

Status SealInto(json::object& entry, const AuditKey& key, std::string_view plaintext) {
  const json::value* rid = entry.if_contains("request_id");
  if (!rid || !rid->is_string()) return tl::make_unexpected(InvalidArgument("the entry has no request_id"));
  FB_ASSIGN_OR_RETURN(std::string sealed, SealText(key, rid->get_string(), plaintext));
  entry["audit_key"] = key.id;
  entry["sealed"] = std::move(sealed);
  return Ok();
}

// CanonicalWriter.

void CanonicalWriter::Comma() {
  if (levels_.empty() || levels_.back().object) return;  // a member's value follows its key
  if (!levels_.back().first) out_ += ',';
  levels_.back().first = false;
}

void CanonicalWriter::BeginObject() {
  Comma();
  out_ += '{';
  levels_.push_back({true, true, {}});
}

void CanonicalWriter::EndObject() {
  out_ += '}';
  levels_.pop_back();
}

void CanonicalWriter::BeginArray() {
  Comma();
  out_ += '[';
  levels_.push_back({false, true, {}});
}

void CanonicalWriter::EndArray() {
  out_ += ']';
  levels_.pop_back();
}

void CanonicalWriter::Key(std::string_view key) {
  Level& l = levels_.back();
  if (!l.first && !(l.last_key < key)) {
    throw std::logic_error("canonical JSON: key `" + std::string(key) + "` after `" + std::string(l.last_key) + "`");
  }
  if (!l.first) out_ += ',';
  l.first = false;
  l.last_key = key;
  CanonicalString(key, out_);
  out_ += ':';
}

void CanonicalWriter::String(std::string_view s) {
  Comma();
  CanonicalString(s, out_);
}

void CanonicalWriter::Int(int64_t n) {
  Comma();
  CanonicalInt(n, out_);
}

void CanonicalWriter::Bool(bool b) {
  Comma();
  out_ += b ? "true" : "false";
}

void CanonicalWriter::Null() {
  Comma();
  out_ += "null";
}

void CanonicalWriter::Value(const json::value& v) {
  Comma();
  Canonical(v, out_);
}

void CanonicalWriter::Strings(const std::vector<std::string>& items) {
  BeginArray();
  for (const std::string& s : items) String(s);
  EndArray();
}

// Entries hold integers only (RFC 8785 would print other numbers in a form
// this module does not produce): true when `v` has none.
static bool IntegersOnly(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return false;
    case json::kind::array:
      for (const json::value& e : v.get_array()) {
        if (!IntegersOnly(e)) return false;
      }
      return true;
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (!IntegersOnly(kv.value())) return false;
      }
      return true;
    default: return true;
  }
}

Result<json::object> Parse(std::string_view text, json::storage_ptr sp) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, std::move(sp));
  if (ec || !v.is_object()) return tl::make_unexpected(DataLoss("the entry is not a JSON object"));
  if (!IntegersOnly(v)) {
    return tl::make_unexpected(DataLoss("the entry holds a number that is not an integer (entries hold integers only)"));
  }
  const json::value* ver = v.get_object().if_contains("v");
  if (!ver || !ver->is_int64()) return tl::make_unexpected(DataLoss("the entry has no version `v`"));
  if (ver->get_int64() < 2 || ver->get_int64() > kVersion) {
    return tl::make_unexpected(
        DataLoss(fmt::format("entry version {} is not known to this reader (2 to {} are)", ver->get_int64(), kVersion)));
  }
  return std::move(v.get_object());
}

Result<json::object> Open(std::string_view text, const Keyring& keys) {
  FB_ASSIGN_OR_RETURN(json::object e, Parse(text));
  FB_RETURN_IF_ERROR(OpenParsed(e, keys));
  return e;
}

Status OpenParsed(json::object& e, const Keyring& keys) {
  const json::value* sealed = e.if_contains("sealed");
  if (!sealed) return Ok();
  const json::value* rid = e.if_contains("request_id");
  if (!sealed->is_string() || !rid || !rid->is_string()) {
    return tl::make_unexpected(DataLoss("malformed sealed part"));
  }
  auto raw = Base64Decode(std::string_view(sealed->get_string()));
  if (!raw) return tl::make_unexpected(DataLoss("the sealed part is not base64"));
  std::string_view id = rid->get_string();
  Result<std::string> opened = tl::make_unexpected(DataLoss("no audit key opens this entry"));
  if (e.at("v").get_int64() == 2) {
    // Version 2: sealed directly under an audit key, which the entry does not name.
    for (const AuditKey& k : keys.keys()) {
      opened = OpenAes256Gcm(k.secret, *raw, id);
      if (opened) break;
    }
  } else {
    const json::value* kid = e.if_contains("audit_key");
    if (!kid || !kid->is_string()) return tl::make_unexpected(DataLoss("the entry names no audit key"));
    const AuditKey* k = keys.Find(kid->get_string());
    if (!k) {
      return tl::make_unexpected(
          NotFound(fmt::format("audit key {} was not given", std::string(kid->get_string()))));
    }
    opened = OpenAes256Gcm(EntryKey(*k, id), *raw, id);
  }
  if (!opened) return tl::make_unexpected(opened.error());
  boost::system::error_code ec;
  json::value inner = json::parse(*opened, ec, e.storage());
  if (ec || !inner.is_object()) return tl::make_unexpected(DataLoss("the sealed part is not JSON"));
  e.erase("sealed");
  e["opened"] = std::move(inner);
  return Ok();
}

}  // namespace firebreak::entry
