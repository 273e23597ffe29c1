// The data-subject tracker's pure parts (GET /v1/tracker, docs/tracker.md):
// the query, one line per log entry that touched the person's pseudonym, in
// plain English and with nothing about anyone else, the evidence pack as a
// printable page, and the index writer that keeps pseudonym → log indices
// as the gateway logs. `api/reporting.cc` runs them against the store and the log.
//
// What a line may show (everything else in an entry stays out): the time,
// the kind of organisation that asked and the acting user's role, the
// declared and effective purpose, the outcome, the categories asked and
// disclosed, the rules' `because` texts and the obligations in plain
// English, the policy hash, and the tlog-proof receipt. Never the case, its
// other participants, flags, the immigration concern or a free-text field.
//
// Thread model: free functions are thread-safe; `TrackerIndexer` is.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <tl/expected.hpp>

#include "gateway/internal/wire.h"
#include "store/store.h"

namespace firebreak::gateway::internal {

// The header that carries a tracker token (never the URL).
inline constexpr char kTrackerTokenHeader[] = "Firebreak-Tracker-Token";
// Reason codes a covert hold may give.
extern const std::vector<std::string> kHoldReasons;

// The stored form of a tracker token: hex SHA-256.
std::string TokenDigest(std::string_view token);
// A new random token ("fbt_" + 64 hex digits).
Result<std::string> NewTrackerToken();

// GET /v1/tracker?from=YYYY-MM-DD&to=YYYY-MM-DD&purpose=P&page=N&per_page=M
struct TrackerFilter {
  int64_t from = 0;                                    // Unix seconds, inclusive
  int64_t to = std::numeric_limits<int64_t>::max();    // Unix seconds, exclusive (the day after `to`)
  std::string purpose;                                 // declared or effective purpose; empty: any
  size_t page = 1, per_page = 50;                      // per_page ≤ 200
  std::string format = "json";                         // export: "json" or "html"
};
tl::expected<TrackerFilter, Problem> ParseTrackerQuery(std::string_view query);

// Unix seconds of 00:00 UTC on a YYYY-MM-DD date; nullopt if not a date.
std::optional<int64_t> DateToUnix(std::string_view date);
std::string UnixToDate(int64_t t);                       // YYYY-MM-DD
std::string UnixToTime(int64_t t);                       // YYYY-MM-DDTHH:MM:SSZ

// "treat-as-victim-no-police-immigration-action" → "Treat as victim, ..."
// (dashes become spaces, first letter capital).
std::string PlainEnglish(std::string_view code);

// One tracker line from an opened entry (entry::Open: `opened` holds the
// sealed part); `because` maps rule names to their texts; `receipt` is the
// C2SP tlog-proof. Returns the line, or nullopt for an entry of a kind the
// tracker does not show.
std::optional<boost::json::object> TrackerLine(const boost::json::object& opened, uint64_t index,
                                               const std::map<std::string, std::string>& because,
                                               const std::string& receipt);

// Whether a line passes the filter's period and purpose.
bool Matches(const boost::json::object& line, const TrackerFilter& filter);

// The evidence pack (the JSON export) as a standalone printable HTML page:
// no script, no external resources, every value escaped (HtmlEscape,
// base/encoding.h).
std::string EvidenceHtml(const boost::json::object& pack);

// Writes (pseudonym, log index) pairs to the store's tracker index on its
// own thread, several in one transaction, so that logging never waits for
// the store. `Flush` returns once everything added before it is written.
class TrackerIndexer {
 public:
  explicit TrackerIndexer(store::Store& store, std::function<void()> on_error);
  ~TrackerIndexer();
  void Add(std::string pseudonym, uint64_t index);
  void Flush();

 private:
  void Run();
  store::Store& store_;
  std::function<void()> on_error_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::pair<std::string, uint64_t>> queue_;
  static constexpr size_t kBatch = 4096;
  static constexpr std::chrono::milliseconds kGather{20};
  uint64_t added_ = 0, written_ = 0;
  int flushing_ = 0;  // Flush() calls waiting
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace firebreak::gateway::internal
