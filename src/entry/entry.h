// Front door of `entry`: the decision log's entry, as one typed module that
// the gateway writes through and every reader (`firebreak log open`, tests,
// later the audit, the tracker and the reports) reads through.
//
// An entry is canonical JSON (RFC 8785) with a version member `v`. Versions 3
// and 4 (docs/log-format.md) have three kinds, named by `kind`:
//   decision    one decision of /v1/disclosures or /v1/decisions: a clear
//               part (only what the requester already knows) and a sealed
//               part of exactly `kSealedSize` bytes of plaintext (the
//               subject's facts, rules, obligations, per-record provenance)
//   policy      a policy load, reload or refused reload (no personal data)
//   delivery    a follow-up saying an earlier decision's answer was not
//               delivered, so that no one counts a disclosure that did not
//               happen
//   release     a transparency release made through the console
//               (docs/reports.md): mechanism, ε, cap, cell count and the
//               hash of its output in clear (no personal data), its id
//               sealed and padded to `kSealedSize` like every sealed part
// Version 4 seals 1,536 bytes (room for the subject's application choice
// and case flags) and no longer seals `withheld` (asked less disclosed).
// Version 3 and version 2 entries (decisions only, sealed directly under
// the audit key) are still read. A reader refuses any other version.
//
// Sealing: each entry's sealed part is encrypted with AES-256-GCM under its
// own key, HMAC-SHA-256(audit key, "firebreak entry seal v3" ‖ 0 ‖
// request_id), so no audit key ever encrypts more than its derived keys do:
// one message each. The clear part names the audit key by `audit_key`, its id,
// so keys can be rotated and a reader given several.
//
// Error model: `Error`s for malformed entries, unknown versions, unknown key
// ids and sealed parts that do not authenticate.
// Thread model: free functions are thread-safe; `Keyring` is immutable.
//
//   FB_ASSIGN_OR_RETURN(entry::AuditKey key, entry::ReadAuditKey("keys/audit.key"));
//   FB_ASSIGN_OR_RETURN(std::string sealed, entry::FitSealed(facts, cases, records));
//   clear["sealed"] = ...;  // see SealInto
//   FB_ASSIGN_OR_RETURN(boost::json::object opened, entry::Open(text, keyring));
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"

namespace firebreak::entry {

inline constexpr int kVersion = 4;
// Every decision entry's sealed plaintext is padded to exactly this size
// (version 3 entries: 1,024 bytes).
inline constexpr size_t kSealedSize = 1536;

// RFC 8785 canonical JSON of `v` (integers only; keys sorted by UTF-16 code
// units, which for our ASCII keys is byte order).
std::string CanonicalJson(const boost::json::value& v);

// Writes canonical JSON straight into a string, with no tree, for a writer
// that knows its keys (the gateway's decision entries): members must be
// given in canonical order, which `Key` checks (a key out of order throws
// std::logic_error: a bug, never an entry that is not canonical).
//
//   std::string out;
//   CanonicalWriter w(out);
//   w.BeginObject();  w.Key("a");  w.Int(1);  w.Key("b");  w.String("x");  w.EndObject();
class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::string& out) : out_(out) {}
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view s);
  void Int(int64_t n);
  void Bool(bool b);
  void Null();
  // Any value, written as CanonicalJson writes it.
  void Value(const boost::json::value& v);
  // A list of strings.
  void Strings(const std::vector<std::string>& items);

 private:
  void Comma();  // before a value in an array
  struct Level {
    bool object = false, first = true;
    std::string_view last_key;  // points into the caller's key (string literals here)
  };
  std::string& out_;
  std::vector<Level> levels_;
};

// An audit key: 32 secret bytes and their public id (16 hex digits of
// SHA-256("firebreak audit key id" ‖ 0 ‖ key)).
struct AuditKey {
  std::string id;
  std::string secret;
};
Result<AuditKey> AuditKeyFromHex(std::string_view hex);
Result<AuditKey> ReadAuditKey(const std::string& path);

class Keyring {
 public:
  Keyring() = default;
  explicit Keyring(std::vector<AuditKey> keys) : keys_(std::move(keys)) {}
  // nullptr when no key has `id`.
  const AuditKey* Find(std::string_view id) const;
  const std::vector<AuditKey>& keys() const { return keys_; }

 private:
  std::vector<AuditKey> keys_;
};

// The sealed plaintext of a decision entry: `base` with as many of `cases`
// and then `records` and `rules` as fit (in order), the numbers left out in
// `cases_not_listed`, `records_not_listed` and `rules_not_listed`, rendered
// canonically and padded with spaces to exactly kSealedSize bytes, whatever
// the subject. kInternal when even `base` alone does not fit.
Result<std::string> FitSealed(boost::json::object base,
                              const std::vector<boost::json::value>& cases,
                              const std::vector<boost::json::value>& records,
                              const std::vector<std::string>& rules);

// The most cases, and records, a sealed part lists (the rest are counted).
inline constexpr size_t kMaxListed = 16;

// FitSealed for a writer that writes the sealed object itself:
// `write(out, n_cases, n_records, n_rules)` appends the object listing the
// first `n_*` of them (and counting the rest in `*_not_listed`), and is
// called again with fewer (records first, then cases, then rules, as
// FitSealed drops them) until the text fits kSealedSize; the text is then
// padded with spaces to exactly kSealedSize. kInternal when even none fit.
Result<std::string> FitSealedText(
    size_t cases, size_t records, size_t rules,
    const std::function<void(std::string& out, size_t n_cases, size_t n_records, size_t n_rules)>& write);

// Seals `plaintext` into `entry` (which must hold `request_id`): sets
// `audit_key` and `sealed`.
Status SealInto(boost::json::object& entry, const AuditKey& key, std::string_view plaintext);
// The same seal as text: the base64 value of an entry's `sealed` member for
// `request_id` (the entry's `audit_key` is `key.id`).
Result<std::string> SealText(const AuditKey& key, std::string_view request_id, std::string_view plaintext);

// Parses an entry and checks its version: a JSON object whose `v` this
// reader knows (2, 3 or 4). `sp` is the memory it is parsed into (a reader of
// millions of entries passes a monotonic resource it reuses).
Result<boost::json::object> Parse(std::string_view text, boost::json::storage_ptr sp = {});

// Parses and opens: the entry with `sealed` replaced by `opened` (the sealed
// JSON). Entries without a sealed part are returned as parsed.
Result<boost::json::object> Open(std::string_view text, const Keyring& keys);
// Opens a parsed entry in place. Errors: kNotFound when the entry names an
// audit key `keys` lacks, kDataLoss when the sealed part does not open.
Status OpenParsed(boost::json::object& entry, const Keyring& keys);

}  // namespace firebreak::entry
