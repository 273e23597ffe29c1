// The in-memory twin of the SQLite store: the same contract over maps, for
// tests. A transaction (`Bulk`) snapshots the state and restores it if the
// body fails.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>

#include "store/store.h"

namespace firebreak::store {
namespace {

struct CredentialKey {
  CredentialKind kind;
  std::string digest;
  bool operator<(const CredentialKey& o) const {
    return std::tie(kind, digest) < std::tie(o.kind, o.digest);
  }
};

struct State {
  std::map<std::string, Organisation> orgs;
  std::map<CredentialKey, std::string> credentials;
  std::map<std::string, std::string> field_categories;
  std::map<int64_t, Subject> subjects;
  std::map<std::string, int64_t> by_reference;
  std::multimap<std::string, int64_t> by_identity;
  std::map<std::string, Case> cases;
  // subject id → (case id, role)
  std::multimap<int64_t, std::pair<std::string, std::string>> participants;
  std::map<int64_t, Record> records;
  std::multimap<int64_t, int64_t> records_by_subject;
  std::map<std::string, Receipt> receipts;
  std::map<std::string, Report> reports;
  std::map<std::string, TrackerToken> tokens;
  std::map<uint64_t, Hold> holds;
  std::map<std::string, std::set<uint64_t>> index;
  int64_t next_subject = 1;
  int64_t next_record = 1;
};

class MemoryStore : public Store {
 public:
  Status PutOrganisation(const Organisation& org) override {
    FB_RETURN_IF_ERROR(CheckWritable(org));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    if (org.id.empty()) return tl::make_unexpected(InvalidArgument("organisation id is empty"));
    s_.orgs[org.id] = org;
    return Ok();
  }

  Status AddCredential(std::string_view org_id, CredentialKind kind,
                       std::string_view sha256_hex) override {
    FB_RETURN_IF_ERROR(CheckStoredText("credential `org_id`", org_id));
    FB_RETURN_IF_ERROR(CheckStoredText("credential digest", sha256_hex));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    if (!s_.orgs.count(std::string(org_id))) {
      return tl::make_unexpected(InvalidArgument("no organisation `" + std::string(org_id) + "`"));
    }
    CredentialKey key{kind, std::string(sha256_hex)};
    if (s_.credentials.count(key)) {
      return tl::make_unexpected(AlreadyExists("credential already registered"));
    }
    s_.credentials[key] = std::string(org_id);
    return Ok();
  }

  Status SetFieldCategory(std::string_view field, std::string_view category) override {
    FB_RETURN_IF_ERROR(CheckStoredText("field map `field`", field));
    FB_RETURN_IF_ERROR(CheckStoredText("field map `category`", category));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    s_.field_categories[std::string(field)] = std::string(category);
    return Ok();
  }

  Result<int64_t> AddSubject(const Subject& subject) override {
    FB_RETURN_IF_ERROR(CheckWritable(subject));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    if (s_.by_reference.count(subject.reference)) {
      return tl::make_unexpected(
          AlreadyExists("subject reference `" + subject.reference + "` already exists"));
    }
    Subject s = subject;
    s.id = s_.next_subject++;
    s_.by_reference[s.reference] = s.id;
    s_.by_identity.emplace(IdentityKey(s.given_name, s.family_name, s.date_of_birth), s.id);
    s_.subjects[s.id] = std::move(s);
    return s_.next_subject - 1;
  }

  Status PutCase(const Case& c) override {
    FB_RETURN_IF_ERROR(CheckWritable(c));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    s_.cases[c.id] = c;
    return Ok();
  }

  Status SetApplicationChoice(int64_t subject_id, const ApplicationChoice& choice) override {
    FB_RETURN_IF_ERROR(CheckApplicationChoice(choice));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    auto it = s_.subjects.find(subject_id);
    if (it == s_.subjects.end()) {
      return tl::make_unexpected(InvalidArgument("no subject " + std::to_string(subject_id)));
    }
    it->second.application = choice;
    return Ok();
  }

  Status AddParticipant(std::string_view case_id, int64_t subject_id,
                        std::string_view role) override {
    FB_RETURN_IF_ERROR(CheckStoredText("participant `case_id`", case_id));
    FB_RETURN_IF_ERROR(CheckStoredText("participant `role`", role));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    if (!s_.cases.count(std::string(case_id))) {
      return tl::make_unexpected(InvalidArgument("no case `" + std::string(case_id) + "`"));
    }
    if (!s_.subjects.count(subject_id)) {
      return tl::make_unexpected(InvalidArgument("no subject " + std::to_string(subject_id)));
    }
    auto range = s_.participants.equal_range(subject_id);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second.first == case_id && it->second.second == role) {
        return tl::make_unexpected(AlreadyExists("participant already recorded"));
      }
    }
    s_.participants.emplace(subject_id, std::make_pair(std::string(case_id), std::string(role)));
    return Ok();
  }

  Result<int64_t> AddRecord(const Record& record) override {
    FB_RETURN_IF_ERROR(CheckWritable(record));
    std::lock_guard lock(mu_);
    ++stamp_;  // before the write: a reader never keeps data newer than its stamp
    if (!s_.subjects.count(record.subject_id)) {
      return tl::make_unexpected(InvalidArgument("no subject " + std::to_string(record.subject_id)));
    }
    if (!record.case_id.empty() && !s_.cases.count(record.case_id)) {
      return tl::make_unexpected(InvalidArgument("no case `" + record.case_id + "`"));
    }
    Record r = record;
    r.id = s_.next_record++;
    r.case_type.clear();
    r.case_status.clear();
    s_.records_by_subject.emplace(r.subject_id, r.id);
    s_.records[r.id] = std::move(r);
    return s_.next_record - 1;
  }

  Status PutReceipt(const Receipt& receipt) override {
    FB_RETURN_IF_ERROR(CheckWritable(receipt));
    std::lock_guard lock(mu_);
    if (s_.receipts.count(receipt.id)) {
      return tl::make_unexpected(AlreadyExists("receipt `" + receipt.id + "` already exists"));
    }
    if (!s_.orgs.count(receipt.org_id)) {
      return tl::make_unexpected(InvalidArgument("no organisation `" + receipt.org_id + "`"));
    }
    s_.receipts[receipt.id] = receipt;
    return Ok();
  }

  Status PutReport(const Report& r) override {
    FB_RETURN_IF_ERROR(CheckWritable(r));
    std::lock_guard lock(mu_);
    if (s_.reports.count(r.id)) return tl::make_unexpected(AlreadyExists("report already exists"));
    if (!s_.subjects.count(r.subject_id) || !s_.cases.count(r.case_id) || !s_.orgs.count(r.org_id)) {
      return tl::make_unexpected(InvalidArgument("a report names an unknown subject, case or organisation"));
    }
    s_.reports[r.id] = r;
    return Ok();
  }

  Status PutTrackerToken(const TrackerToken& t) override {
    FB_RETURN_IF_ERROR(CheckWritable(t));
    std::lock_guard lock(mu_);
    if (s_.tokens.count(t.digest)) return tl::make_unexpected(AlreadyExists("tracker token already exists"));
    if (!s_.subjects.count(t.subject_id) || (!t.org_id.empty() && !s_.orgs.count(t.org_id))) {
      return tl::make_unexpected(InvalidArgument("a tracker token names an unknown subject or organisation"));
    }
    s_.tokens[t.digest] = t;
    return Ok();
  }

  Status RevokeTrackerToken(std::string_view digest, int64_t when) override {
    FB_RETURN_IF_ERROR(CheckStoredText("tracker token digest", digest));
    std::lock_guard lock(mu_);
    auto it = s_.tokens.find(std::string(digest));
    if (it == s_.tokens.end()) return tl::make_unexpected(NotFound("no such tracker token"));
    it->second.revoked = when;
    return Ok();
  }

  Status PutHold(const Hold& h) override {
    FB_RETURN_IF_ERROR(CheckWritable(h));
    std::lock_guard lock(mu_);
    s_.holds[h.log_index] = h;
    return Ok();
  }

  Status AddTrackerIndex(std::string_view pseudonym, uint64_t log_index) override {
    FB_RETURN_IF_ERROR(CheckStoredText("tracker index `pseudonym`", pseudonym));
    std::lock_guard lock(mu_);
    s_.index[std::string(pseudonym)].insert(log_index);
    return Ok();
  }

  // Reads already see whole writes (one mutex); writers wait meanwhile.
  Status ReadTogether(const std::function<Status()>& body) override {
    std::shared_lock bulk(bulk_mu_);
    return body();
  }

  Status Bulk(const std::function<Status()>& body) override {
    std::unique_lock bulk(bulk_mu_);
    State saved;
    {
      std::lock_guard lock(mu_);
      saved = s_;
    }
    Status st = body();
    if (!st) {
      std::lock_guard lock(mu_);
      s_ = std::move(saved);
      ++stamp_;
    }
    return st;
  }

  Result<std::optional<uint64_t>> ChangeStamp() override {
    return std::optional<uint64_t>(stamp_.load());
  }

  Result<std::optional<Organisation>> FindOrganisationByCredential(
      CredentialKind kind, std::string_view sha256_hex) override {
    if (!IsStoredText(sha256_hex)) return std::optional<Organisation>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.credentials.find(CredentialKey{kind, std::string(sha256_hex)});
    if (it == s_.credentials.end()) return std::optional<Organisation>();
    return std::optional<Organisation>(s_.orgs.at(it->second));
  }

  Result<std::optional<Organisation>> GetOrganisation(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Organisation>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.orgs.find(std::string(id));
    if (it == s_.orgs.end()) return std::optional<Organisation>();
    return std::optional<Organisation>(it->second);
  }

  Result<std::optional<Subject>> FindSubjectByReference(std::string_view reference) override {
    if (!IsStoredText(reference)) return std::optional<Subject>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.by_reference.find(std::string(reference));
    if (it == s_.by_reference.end()) return std::optional<Subject>();
    return std::optional<Subject>(s_.subjects.at(it->second));
  }

  Result<std::vector<Subject>> MatchIdentity(std::string_view given_name,
                                             std::string_view family_name,
                                             std::string_view date_of_birth) override {
    if (!IsStoredText(IdentityKey(given_name, family_name, date_of_birth))) return std::vector<Subject>();
    std::lock_guard lock(mu_);
    std::vector<Subject> out;
    auto range = s_.by_identity.equal_range(IdentityKey(given_name, family_name, date_of_birth));
    for (auto it = range.first; it != range.second; ++it) out.push_back(s_.subjects.at(it->second));
    std::sort(out.begin(), out.end(), [](const Subject& a, const Subject& b) { return a.id < b.id; });
    return out;
  }

  Result<std::vector<Participation>> SubjectCases(int64_t subject_id) override {
    std::lock_guard lock(mu_);
    std::vector<Participation> out;
    auto range = s_.participants.equal_range(subject_id);
    for (auto it = range.first; it != range.second; ++it) {
      const Case& c = s_.cases.at(it->second.first);
      out.push_back({c.id, c.type, c.status, it->second.second, c.flags});
    }
    std::sort(out.begin(), out.end(), [](const Participation& a, const Participation& b) {
      return std::tie(a.case_id, a.role) < std::tie(b.case_id, b.role);
    });
    return out;
  }

  Result<std::vector<Record>> SubjectRecords(int64_t subject_id) override {
    std::lock_guard lock(mu_);
    std::vector<Record> out;
    auto range = s_.records_by_subject.equal_range(subject_id);
    for (auto it = range.first; it != range.second; ++it) {
      Record r = s_.records.at(it->second);
      if (!r.case_id.empty()) {
        const Case& c = s_.cases.at(r.case_id);
        r.case_type = c.type;
        r.case_status = c.status;
      }
      out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) { return a.id < b.id; });
    return out;
  }

  Result<std::map<std::string, std::string>> FieldCategories() override {
    std::lock_guard lock(mu_);
    return s_.field_categories;
  }

  Result<std::optional<Receipt>> GetReceipt(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Receipt>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.receipts.find(std::string(id));
    if (it == s_.receipts.end()) return std::optional<Receipt>();
    return std::optional<Receipt>(it->second);
  }

  Result<std::optional<Report>> GetReport(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Report>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.reports.find(std::string(id));
    if (it == s_.reports.end()) return std::optional<Report>();
    return std::optional<Report>(it->second);
  }

  Result<std::optional<TrackerToken>> FindTrackerToken(std::string_view digest) override {
    if (!IsStoredText(digest)) return std::optional<TrackerToken>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.tokens.find(std::string(digest));
    if (it == s_.tokens.end()) return std::optional<TrackerToken>();
    return std::optional<TrackerToken>(it->second);
  }

  Result<std::vector<TrackerToken>> SubjectTrackerTokens(int64_t subject_id) override {
    std::lock_guard lock(mu_);
    std::vector<TrackerToken> out;
    for (const auto& [d, t] : s_.tokens) {
      if (t.subject_id == subject_id) out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const TrackerToken& a, const TrackerToken& b) { return a.created < b.created; });
    return out;
  }

  Result<std::optional<Subject>> GetSubject(int64_t id) override {
    std::lock_guard lock(mu_);
    auto it = s_.subjects.find(id);
    if (it == s_.subjects.end()) return std::optional<Subject>();
    return std::optional<Subject>(it->second);
  }

  Result<std::vector<Hold>> HoldsFor(const std::vector<uint64_t>& indices) override {
    std::lock_guard lock(mu_);
    std::set<uint64_t> want(indices.begin(), indices.end());
    std::vector<Hold> out;
    for (uint64_t i : want) {
      auto it = s_.holds.find(i);
      if (it != s_.holds.end()) out.push_back(it->second);
    }
    return out;
  }

  Result<std::vector<Hold>> AllHolds() override {
    std::lock_guard lock(mu_);
    std::vector<Hold> out;
    for (const auto& [i, h] : s_.holds) out.push_back(h);
    return out;
  }

  Result<std::vector<uint64_t>> TrackerIndex(std::string_view pseudonym) override {
    if (!IsStoredText(pseudonym)) return std::vector<uint64_t>();  // no such key is stored
    std::lock_guard lock(mu_);
    auto it = s_.index.find(std::string(pseudonym));
    if (it == s_.index.end()) return std::vector<uint64_t>();
    return std::vector<uint64_t>(it->second.begin(), it->second.end());
  }

  Result<Counts> CountAll() override {
    std::lock_guard lock(mu_);
    Counts c;
    c.organisations = int64_t(s_.orgs.size());
    c.subjects = int64_t(s_.subjects.size());
    c.cases = int64_t(s_.cases.size());
    c.participants = int64_t(s_.participants.size());
    c.records = int64_t(s_.records.size());
    c.receipts = int64_t(s_.receipts.size());
    return c;
  }

 private:
  std::atomic<uint64_t> stamp_{0};
  std::shared_mutex bulk_mu_;  // one transaction at a time; ReadTogether shares it
  std::mutex mu_;
  State s_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace firebreak::store
