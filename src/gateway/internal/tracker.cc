#include "gateway/internal/tracker.h"

#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

json::array Strings(const json::object& o, std::string_view key) {
  json::array out;
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const json::value& e : v->get_array()) {
    if (e.is_string()) out.push_back(e);
  }
  return out;
}

json::array Plain(const json::array& codes) {
  json::array out;
  for (const json::value& c : codes) out.push_back(json::string(PlainEnglish(c.get_string())));
  return out;
}

// Percent-decoding of one query value ('+' is a space).
std::optional<std::string> Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      auto hex = HexDecode(s.substr(i + 1, 2));
      if (!hex || hex->size() != 1) return std::nullopt;
      out += (*hex)[0];
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string> kHoldReasons = {"live-investigation", "court-order", "safeguarding-risk"};

std::string TokenDigest(std::string_view token) { return HexEncode(DigestBytes(Sha256(token))); }

Result<std::string> NewTrackerToken() {
  FB_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(32));
  return "fbt_" + HexEncode(bytes);
}

std::optional<int64_t> DateToUnix(std::string_view date) {
  if (!IsDate(date)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(std::string(date.substr(0, 4))) - 1900;
  tm.tm_mon = std::stoi(std::string(date.substr(5, 2))) - 1;
  tm.tm_mday = std::stoi(std::string(date.substr(8, 2)));
  return int64_t(timegm(&tm));
}

std::string UnixToDate(int64_t t) {
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string UnixToTime(int64_t t) {
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

tl::expected<TrackerFilter, Problem> ParseTrackerQuery(std::string_view query) {
  TrackerFilter f;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    // A pair with no name ("&=x") is named by where it is, so that every
    // refusal names something (found by reporting_fuzz).
    if (key.empty()) return tl::make_unexpected(Problem{400, "query", "a parameter has no name"});
    auto value = Unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) return tl::make_unexpected(Problem{400, key, "is not percent-encoded correctly"});
    if (key == "from" || key == "to") {
      auto t = DateToUnix(*value);
      if (!t) return tl::make_unexpected(Problem{400, key, "must be a calendar date YYYY-MM-DD"});
      if (key == "from") f.from = *t;
      else f.to = *t + 86400;
    } else if (key == "purpose") {
      if (value->empty() || value->size() > 64) {
        return tl::make_unexpected(Problem{400, key, "must be a purpose code of at most 64 characters"});
      }
      for (char c : *value) {
        if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '-') {
          return tl::make_unexpected(Problem{400, key, "must be a purpose code (lower-case letters, digits, `-`)"});
        }
      }
      f.purpose = *value;
    } else if (key == "page" || key == "per_page") {
      size_t n = 0;
      bool ok = !value->empty() && value->size() <= 6;
      for (char c : *value) {
        if (c < '0' || c > '9') ok = false;
        else n = n * 10 + size_t(c - '0');
      }
      if (!ok || n == 0 || (key == "per_page" && n > 200)) {
        return tl::make_unexpected(Problem{400, key, key == "page" ? "must be a whole number from 1"
                                                                   : "must be a whole number from 1 to 200"});
      }
      (key == "page" ? f.page : f.per_page) = n;
    } else if (key == "format") {
      if (*value != "json" && *value != "html") return tl::make_unexpected(Problem{400, key, "must be `json` or `html`"});
      f.format = *value;
    } else {
      return tl::make_unexpected(Problem{400, key, "unknown parameter `" + key + "`"});
    }
  }
  if (f.from >= f.to) return tl::make_unexpected(Problem{400, "from", "must be on or before `to`"});
  return f;
}

std::string PlainEnglish(std::string_view code) {
  std::string out(code);
  for (char& c : out) {
    if (c == '-' || c == '_') c = ' ';
  }
  if (!out.empty()) out[0] = char(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::optional<json::object> TrackerLine(const json::object& e, uint64_t index,
                                        const std::map<std::string, std::string>& because,
                                        const std::string& receipt) {
  std::string_view kind = Str(e, "kind");
  const json::value* opened_v = e.if_contains("opened");
  if (!opened_v || !opened_v->is_object()) return std::nullopt;
  const json::object& sealed = opened_v->get_object();
  int64_t t = 0;
  if (const json::value* tv = e.if_contains("time"); tv && tv->is_int64()) t = tv->get_int64();
  json::object line{{"log_index", index}, {"time", UnixToTime(t)}, {"unix_time", t}};
  const json::value* req = e.if_contains("requester");
  const json::object* requester = req && req->is_object() ? &req->get_object() : nullptr;
  if (kind == "decision") {
    bool outward = Str(e, "endpoint") == "disclosures";
    line["what"] = outward ? "An organisation outside the force asked for information about you."
                           : "The force's own system checked what it may do with information about you.";
    json::object who;
    if (requester) {
      who["organisation_type"] = json::string(Str(*requester, "org_type"));
      if (!Str(*requester, "role").empty()) who["user_role"] = json::string(Str(*requester, "role"));
    }
    line["requester"] = std::move(who);
    line["purpose"] = json::object{{"declared", json::string(Str(e, "purpose"))},
                                   {"effective", json::string(Str(sealed, "effective_purpose"))}};
    std::string_view decision = outward ? Str(e, "decision") : Str(sealed, "decision");
    line["outcome"] = decision == "permit" ? "permitted" : "refused";
    line["categories_asked"] = Strings(e, "asked");
    line["categories_disclosed"] = outward ? Strings(e, "disclosed") : Strings(sealed, "disclosed");
    json::array reasons;
    for (const json::value& r : Strings(sealed, "rules")) {
      std::string name(r.get_string());
      auto it = because.find(name);
      reasons.push_back(json::object{
          {"rule", name},
          {"because", it != because.end() ? it->second
                                          : std::string("(the text of this rule is not in the policy in force now; "
                                                        "the policy hash names the policy that decided)")}});
    }
    if (reasons.empty()) {
      reasons.push_back(json::object{{"rule", ""}, {"because", "No rule of the policy allowed this request."}});
    }
    line["because"] = std::move(reasons);
    line["obligations"] = Plain(Strings(sealed, "obligations"));
    line["policy_hash"] = json::string(Str(e, "policy_hash"));
  } else if (kind == "report") {
    line["what"] = "Your report was received and recorded.";
    line["requester"] = json::object{{"organisation_type", json::string(Str(sealed, "intake_org_type"))}};
    line["purpose"] = json::object{{"declared", "report"}, {"effective", "report"}};
    line["outcome"] = "recorded";
    line["categories_asked"] = json::array();
    line["categories_disclosed"] = json::array();
    line["because"] = json::array();
    line["obligations"] = json::array();
  } else if (kind == "tracker-view") {
    line["what"] = "An advocate organisation holding your mandate looked at this tracker.";
    json::object who;
    if (requester) who["organisation_type"] = json::string(Str(*requester, "org_type"));
    line["requester"] = std::move(who);
    line["purpose"] = json::object{{"declared", "tracker-view"}, {"effective", "tracker-view"}};
    line["outcome"] = "viewed";
    line["categories_asked"] = json::array();
    line["categories_disclosed"] = json::array();
    line["because"] = json::array();
    line["obligations"] = json::array();
  } else {
    return std::nullopt;
  }
  line["receipt"] = receipt;
  return line;
}

bool Matches(const json::object& line, const TrackerFilter& f) {
  int64_t t = line.at("unix_time").as_int64();
  if (t < f.from || t >= f.to) return false;
  if (f.purpose.empty()) return true;
  const json::object& p = line.at("purpose").as_object();
  return p.at("declared").as_string() == f.purpose || p.at("effective").as_string() == f.purpose;
}

std::string EvidenceHtml(const json::object& pack) {
  auto text = [](const json::value* v) -> std::string {
    if (!v) return "";
    if (v->is_string()) return std::string(v->get_string());
    return json::serialize(*v);
  };
  auto list = [&](const json::value* v) {
    std::string out;
    if (!v || !v->is_array()) return out;
    for (const json::value& e : v->get_array()) {
      if (!out.empty()) out += ", ";
      out += HtmlEscape(text(&e));
    }
    return out.empty() ? std::string("none") : out;
  };
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>Evidence pack: who asked about me</title>"
      "<style>body{font-family:serif;max-width:60em;margin:2em auto}"
      "section{border-top:1px solid #000;padding:.5em 0;page-break-inside:avoid}"
      "pre{white-space:pre-wrap;word-break:break-all;font-size:8pt}dt{font-weight:bold}</style>"
      "</head><body>\n<h1>Evidence pack: who asked about me</h1>\n";
  h += "<p>" + HtmlEscape(text(pack.if_contains("freshness"))) + "</p>\n";
  h += "<p>Generated " + HtmlEscape(text(pack.if_contains("generated"))) +
       ". Each entry below carries a receipt (a C2SP tlog-proof) that anyone can check against the public "
       "decision log with the log's public key:</p>\n<pre>" +
       HtmlEscape(text(pack.if_contains("log_key"))) + "</pre>\n";
  if (const json::value* entries = pack.if_contains("entries"); entries && entries->is_array()) {
    for (const json::value& ev : entries->get_array()) {
      if (!ev.is_object()) continue;
      const json::object& e = ev.get_object();
      h += "<section><h2>" + HtmlEscape(text(e.if_contains("time"))) + " — " + HtmlEscape(text(e.if_contains("what"))) +
           "</h2><dl>";
      const json::value* req = e.if_contains("requester");
      if (req && req->is_object()) {
        h += "<dt>Who asked</dt><dd>" + HtmlEscape(text(req->get_object().if_contains("organisation_type")));
        if (req->get_object().contains("user_role")) h += " (" + HtmlEscape(text(req->get_object().if_contains("user_role"))) + ")";
        h += "</dd>";
      }
      const json::value* p = e.if_contains("purpose");
      if (p && p->is_object()) {
        h += "<dt>Purpose</dt><dd>declared: " + HtmlEscape(text(p->get_object().if_contains("declared"))) +
             "; as the policy judged it: " + HtmlEscape(text(p->get_object().if_contains("effective"))) + "</dd>";
      }
      h += "<dt>Outcome</dt><dd>" + HtmlEscape(text(e.if_contains("outcome"))) + "</dd>";
      h += "<dt>Information asked for</dt><dd>" + list(e.if_contains("categories_asked")) + "</dd>";
      h += "<dt>Information given</dt><dd>" + list(e.if_contains("categories_disclosed")) + "</dd>";
      if (const json::value* b = e.if_contains("because"); b && b->is_array() && !b->get_array().empty()) {
        h += "<dt>Because</dt><dd><ul>";
        for (const json::value& r : b->get_array()) {
          if (!r.is_object()) continue;
          h += "<li>" + HtmlEscape(text(r.get_object().if_contains("because")));
          std::string rule = text(r.get_object().if_contains("rule"));
          if (!rule.empty()) h += " <small>(rule " + HtmlEscape(rule) + ")</small>";
          h += "</li>";
        }
        h += "</ul></dd>";
      }
      h += "<dt>Conditions on the recipient</dt><dd>" + list(e.if_contains("obligations")) + "</dd>";
      if (e.contains("policy_hash")) h += "<dt>Policy hash</dt><dd><code>" + HtmlEscape(text(e.if_contains("policy_hash"))) + "</code></dd>";
      h += "<dt>Log entry</dt><dd>" + HtmlEscape(text(e.if_contains("log_index"))) + "</dd>";
      h += "</dl><details><summary>Receipt (tlog-proof)</summary><pre>" + HtmlEscape(text(e.if_contains("receipt"))) +
           "</pre></details></section>\n";
    }
  }
  h += "</body></html>\n";
  return h;
}

TrackerIndexer::TrackerIndexer(store::Store& store, std::function<void()> on_error)
    : store_(store), on_error_(std::move(on_error)), thread_([this] { Run(); }) {}

TrackerIndexer::~TrackerIndexer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void TrackerIndexer::Add(std::string pseudonym, uint64_t index) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(std::move(pseudonym), index);
    ++added_;
    // Only the first of a batch wakes the writer, and a full batch.
    wake = queue_.size() == 1 || queue_.size() == kBatch;
  }
  if (wake) cv_.notify_one();
}

void TrackerIndexer::Flush() {
  std::unique_lock lock(mu_);
  uint64_t target = added_;
  ++flushing_;
  cv_.notify_one();
  done_cv_.wait(lock, [&] { return written_ >= target || stop_; });
  --flushing_;
}

void TrackerIndexer::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) break;
    // One transaction per gathering window, not per entry: the index is
    // written off the request path, and a tracker answer flushes it first.
    cv_.wait_for(lock, kGather, [&] { return stop_ || flushing_ > 0 || queue_.size() >= kBatch; });
    std::deque<std::pair<std::string, uint64_t>> batch;
    batch.swap(queue_);
    lock.unlock();
    Status st = store_.Bulk([&]() -> Status {
      for (const auto& [p, i] : batch) FB_RETURN_IF_ERROR(store_.AddTrackerIndex(p, i));
      return Ok();
    });
    if (!st && on_error_) on_error_();
    lock.lock();
    written_ += batch.size();
    done_cv_.notify_all();
  }
  done_cv_.notify_all();
}

}  // namespace firebreak::gateway::internal
