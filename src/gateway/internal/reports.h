// The safe reporting pathway's wire format (POST /v1/reports, docs/reporting.md):
// what an intake organisation may send about a victim or witness, and what
// is dropped. The schema has no immigration field at all: any key that names
// one (`IsImmigrationField`), at any depth, is dropped before anything else
// looks at the body, never stored, and listed (by its path) in the answer —
// never a 400, which could make a frightened person give up. Any other
// mistake is a 400 naming the field. Reachable by tests and fuzz targets.
//
// Thread model: free functions are thread-safe; `RateLimiter` is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "base/error.h"
#include "gateway/internal/wire.h"
#include "store/store.h"

namespace firebreak::gateway::internal {

// The keys a report may never carry, compared after folding case and
// treating `-`, ` ` and `.` as `_` (docs/reporting.md lists them): exact
// names (`visa`, `brp`, `share_code`, ...) and any key containing one of the
// stems `immigration`, `nationality`, `citizenship`, `passport`, `asylum`,
// `home_office`, `homeoffice`, `visa_`, `leave_to_remain`, `right_to_work`,
// `right_to_rent`, `residence_permit`, `settled_status`, `country_of_birth`,
// `place_of_birth`, `ethnicity`.
bool IsImmigrationField(std::string_view key);

// The offences (case types) a report may name: the schema's case types less
// `immigration-offence`, which is never a report of a crime against a person.
extern const std::vector<std::string> kReportOffences;

// A report as parsed: the person (stored as a new subject, victim or
// witness), the offence (a new case at status `reported`) and the fields of
// the one record collected in that capacity.
struct ReportInput {
  std::string role;     // "victim" or "witness"
  std::string offence;  // a case type from kReportOffences
  std::string given_name, family_name, date_of_birth;  // date may be empty
  std::vector<store::Field> fields;  // every field of the record, by store field name
  std::vector<std::string> dropped;  // paths of the dropped immigration fields, in body order
};

// Body: {"role", "offence", "person": {given_name, family_name,
// date_of_birth?, gender?, phone?, email?, address_line?, postcode?,
// first_language?, interpreter?}, "incident"?: {narrative?, injuries?}}.
tl::expected<ReportInput, Problem> ParseReport(std::string_view body);

// A token bucket per key (the intake organisation): `per_second` refill and
// `burst` capacity. `Allow` takes one token or says no.
class RateLimiter {
 public:
  RateLimiter(double per_second, double burst) : rate_(per_second), burst_(burst) {}
  bool Allow(const std::string& key, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  double rate_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// Group commit for the store's durable writes (the reports): concurrent
// `Commit` calls are gathered and run as one durable transaction, so one
// flush covers many reports. If that transaction fails, each body is run
// again in its own, so one bad report never fails the others. `Commit`
// returns once its body's writes are durable (or failed). Bodies follow
// Store::Bulk's rules (they may run more than once).
class GroupCommitter {
 public:
  explicit GroupCommitter(store::Store& store) : store_(store) {}
  Status Commit(const std::function<Status()>& body);

 private:
  struct Waiter {
    const std::function<Status()>* body;
    Status result = Ok();
    bool done = false;
  };
  store::Store& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Waiter*> queue_;
  bool leading_ = false;
};

}  // namespace firebreak::gateway::internal
