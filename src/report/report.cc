#include "report/report.h"

#include <algorithm>
#include <ctime>
#include <memory>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "engine/engine.h"
#include "ledger/log_reader.h"
#include "ledger/storage.h"
#include "policy/policy.h"

namespace firebreak::report {

namespace json = boost::json;

namespace {

constexpr char kMechanism[] =
    "discrete Laplace (two-sided geometric), exact integer sampler of Canonne, Kamath and Steinke (2020), "
    "OpenSSL RAND_bytes";

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::tm Utc(int64_t t) {
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

int64_t FromUtc(int year, int month) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = 1;
  return int64_t(timegm(&tm));
}

// The 64 bits of a pseudonym that tell subjects apart in the cap (two
// pseudonyms sharing them would share one cap: stricter, never looser).
uint64_t SubjectKey(std::string_view pseudonym) {
  uint64_t k = 0;
  for (size_t i = 0; i < 16 && i < pseudonym.size(); ++i) {
    char c = pseudonym[i];
    k = k * 16 + uint64_t(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return k;
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

Result<std::vector<std::string>> StringsFrom(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return tl::make_unexpected(DataLoss(fmt::format("`{}` is missing", key)));
  std::vector<std::string> out;
  for (const json::value& x : v->get_array()) {
    if (!x.is_string()) return tl::make_unexpected(DataLoss(fmt::format("`{}` holds a non-string", key)));
    out.emplace_back(x.get_string());
  }
  return out;
}

json::object NumbersJson(const Release& r) {
  json::object v;
  v["periods"] = Strings(r.vocabulary.periods);
  v["requester_types"] = Strings(r.vocabulary.requester_types);
  v["purposes"] = Strings(r.vocabulary.purposes);
  v["decisions"] = Strings(r.vocabulary.decisions);
  v["roles"] = Strings(r.vocabulary.roles);
  json::array cells;
  cells.reserve(r.noisy.size());
  for (int64_t n : r.noisy) cells.emplace_back(n);
  json::array statements;
  for (const Statement& s : r.statements) {
    statements.push_back(json::object{
        {"guarantee", s.guarantee}, {"text", s.text}, {"because", s.because}, {"source", s.source}, {"from", "proof"}});
  }
  return json::object{{"vocabulary", std::move(v)},
                      {"cells", std::move(cells)},
                      {"outside_vocabulary", r.outside_vocabulary},
                      {"statements", std::move(statements)}};
}

}  // namespace

Result<int64_t> ParsePeriodStart(std::string_view text, Period period) {
  auto num = [](std::string_view s, int* out) {
    if (s.empty()) return false;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  };
  int year = 0, month = 1;
  bool ok = period == Period::kYear
                ? text.size() == 4 && num(text, &year)
                : text.size() == 7 && text[4] == '-' && num(text.substr(0, 4), &year) && num(text.substr(5), &month);
  if (!ok || year < 1970 || month < 1 || month > 12) {
    return tl::make_unexpected(InvalidArgument(fmt::format("`{}` is not a {} (expected {})", text,
                                                           period == Period::kYear ? "year" : "month",
                                                           period == Period::kYear ? "YYYY" : "YYYY-MM")));
  }
  return FromUtc(year, month);
}

int64_t PeriodEnd(int64_t start, Period period) {
  std::tm tm = Utc(start);
  int year = tm.tm_year + 1900, month = tm.tm_mon + 1;
  if (period == Period::kYear) return FromUtc(year + 1, 1);
  return month == 12 ? FromUtc(year + 1, 1) : FromUtc(year, month + 1);
}

std::string PeriodName(int64_t t, Period period) {
  std::tm tm = Utc(t);
  return period == Period::kYear ? fmt::format("{:04}", tm.tm_year + 1900)
                                 : fmt::format("{:04}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1);
}

Vocabulary VocabularyFor(const policy::PolicySet& set, Period period, int64_t from, int64_t to) {
  Vocabulary v;
  for (int64_t t = from; t < to; t = PeriodEnd(t, period)) v.periods.push_back(PeriodName(t, period));
  const policy::Schema& s = *set.schema;
  v.requester_types = s.Values(policy::EnumKind::kOrgType);
  v.purposes = s.Values(policy::EnumKind::kPurpose);
  v.decisions = {"permit", "deny"};
  v.roles = s.Values(policy::EnumKind::kRole);
  v.roles.push_back("none");
  return v;
}

Result<Tally> CountLog(const CountOptions& o) {
  if (!o.log_key) return tl::make_unexpected(InvalidArgument("--log-key: the log's verifier key is required"));
  if (o.cap == 0) return tl::make_unexpected(InvalidArgument("--cap must be at least 1"));
  if (o.to <= o.from) return tl::make_unexpected(InvalidArgument("--to must not be before --from"));
  if (o.packs.empty()) return tl::make_unexpected(InvalidArgument("--packs: name the pack directories in force"));
  FB_ASSIGN_OR_RETURN(policy::LoadedPolicy loaded, policy::LoadPolicySet(o.packs));
  if (!loaded.ok()) {
    return tl::make_unexpected(InvalidArgument("--packs: the packs do not load:\n" + loaded.Render()));
  }
  Tally t;
  t.set = loaded.set;
  t.pack_hash = loaded.set->hash;
  t.vocabulary = VocabularyFor(*loaded.set, o.period, o.from, o.to);
  if (t.vocabulary.cells() >= UINT32_MAX) {
    return tl::make_unexpected(InvalidArgument("--from/--to: too many periods for one report"));
  }
  t.cells.assign(t.vocabulary.cells(), 0);
  const policy::Schema& schema = *loaded.set->schema;
  const int role_count = int(schema.Values(policy::EnumKind::kRole).size());

  auto storage = ledger::PosixStorage::OpenReadOnly(o.log_dir);
  if (!storage) return tl::make_unexpected(NotFound("--dir: `" + o.log_dir + "` is not a log directory"));
  ledger::LogReader reader(*storage, o.log_key);
  FB_ASSIGN_OR_RETURN(ledger::LogReader::Snapshot snap, reader.Latest());
  t.origin = snap.checkpoint.origin;
  t.log_size = snap.checkpoint.size;

  // Two passes: workers (one per core, at most two) parse and open their
  // share of the entries into compact records; then, in log order, the cap
  // is applied and the cells counted (the cap keeps each person's first
  // decisions, so it must see them in order).
  struct Rec {
    uint64_t subject;
    uint32_t cell;        // kOutside: a type, purpose or decision the schema lacks
    uint32_t has_subject;
  };
  constexpr uint32_t kOutside = UINT32_MAX;
  struct Part {
    uint64_t begin = 0, end = 0;
    std::vector<Rec> recs;
    uint64_t unreadable = 0, entries = 0, in_range = 0;
    std::vector<std::string> hashes;
    Status status;
  };
  const uint64_t size = snap.checkpoint.size;
  size_t workers = o.threads != 0                ? o.threads
                   : size >= (uint64_t(1) << 16) ? std::min<size_t>(2, std::max(1u, std::thread::hardware_concurrency()))
                                                 : 1;
  workers = std::max<size_t>(1, std::min<size_t>(workers, 16));
  std::vector<Part> parts(workers);
  for (size_t w = 0; w < workers; ++w) {
    parts[w].begin = size * w / workers;
    parts[w].end = size * (w + 1) / workers;
  }
  auto work = [&](Part& part, bool report_progress) {
    std::unique_ptr<unsigned char[]> buffer(new unsigned char[16384]);
    int64_t day = INT64_MIN;
    size_t period_index = 0;
    part.status = reader.ForEachEntry(snap, part.begin, part.end, [&](uint64_t i, std::string_view text) -> Status {
      if (report_progress && o.progress && (i - part.begin) % 65536 == 0) o.progress((i - part.begin) * workers, size);
      ++part.entries;
      json::monotonic_resource memory(buffer.get(), 16384);
      auto parsed = entry::Parse(text, &memory);
      if (!parsed) {
        ++part.unreadable;
        return Ok();
      }
      json::object& e = *parsed;
      std::string_view kind = e.contains("kind") ? Str(e, "kind") : std::string_view("decision");
      if (kind != "decision") return Ok();
      const json::value* tv = e.if_contains("time");
      if (!tv || !tv->is_int64()) {
        ++part.unreadable;
        return Ok();
      }
      int64_t time = tv->get_int64();
      if (time < o.from || time >= o.to) return Ok();
      ++part.in_range;
      if (Status opened = entry::OpenParsed(e, o.keys); !opened) {
        ++part.unreadable;
        return Ok();
      }
      std::string_view hash = Str(e, "policy_hash");
      if (part.hashes.empty() || part.hashes.back() != hash) {
        bool seen = false;
        for (const std::string& h : part.hashes) seen = seen || h == hash;
        if (!seen) part.hashes.emplace_back(hash);
      }
      const json::value* ov = e.if_contains("opened");
      if (!ov || !ov->is_object()) {
        ++part.unreadable;
        return Ok();
      }
      const json::object& sealed = ov->get_object();
      Rec rec{0, kOutside, 0};
      if (const json::value* sv = sealed.if_contains("subject"); sv && sv->is_string()) {
        rec.subject = SubjectKey(sv->get_string());
        rec.has_subject = 1;
      }
      std::string_view org_type;
      if (const json::value* q = e.if_contains("requester"); q && q->is_object()) {
        org_type = Str(q->get_object(), "org_type");
      }
      std::string_view decision = Str(e, "endpoint") == "disclosures" ? Str(e, "decision") : Str(sealed, "decision");
      int type = schema.Find(policy::EnumKind::kOrgType, org_type);
      int purpose = schema.Find(policy::EnumKind::kPurpose, Str(e, "purpose"));
      int d = decision == "permit" ? 0 : decision == "deny" ? 1 : -1;
      // The first of the subject's roles in schema order; "none" without one.
      int role = role_count;
      if (const json::value* rv = sealed.if_contains("roles"); rv && rv->is_array()) {
        for (const json::value& r : rv->get_array()) {
          if (!r.is_string()) continue;
          int k = schema.Find(policy::EnumKind::kRole, r.get_string());
          if (k >= 0 && k < role) role = k;
        }
      }
      if (type >= 0 && purpose >= 0 && d >= 0) {
        if (time / 86400 != day) {
          day = time / 86400;
          std::string name = PeriodName(time, o.period);
          for (size_t p = 0; p < t.vocabulary.periods.size(); ++p) {
            if (t.vocabulary.periods[p] == name) period_index = p;
          }
        }
        rec.cell = uint32_t(t.vocabulary.Index(period_index, size_t(type), size_t(purpose), size_t(d), size_t(role)));
      }
      part.recs.push_back(rec);
      return Ok();
    });
  };
  {
    std::vector<std::thread> threads;
    for (size_t w = 1; w < workers; ++w) threads.emplace_back(work, std::ref(parts[w]), false);
    work(parts[0], true);
    for (std::thread& th : threads) th.join();
  }
  std::unordered_map<uint64_t, uint64_t> per_subject;
  for (const Part& part : parts) {
    FB_RETURN_IF_ERROR(part.status);
    t.entries_read += part.entries;
    t.unreadable += part.unreadable;
    t.decisions_in_range += part.in_range;
    for (const std::string& h : part.hashes) {
      if (std::find(t.policies_in_force.begin(), t.policies_in_force.end(), h) == t.policies_in_force.end()) {
        t.policies_in_force.push_back(h);
      }
    }
    // The privacy unit: the subject's pseudonym, at most `cap` decisions each.
    for (const Rec& rec : part.recs) {
      if (rec.has_subject && ++per_subject[rec.subject] > o.cap) {
        ++t.over_cap;
        continue;
      }
      if (rec.cell == kOutside) {
        ++t.outside_vocabulary;
      } else {
        ++t.cells[rec.cell];
      }
    }
  }
  if (o.progress) o.progress(size, size);
  return t;
}

std::string OutputHash(const Release& r) {
  return "sha256:" + HexEncode(DigestBytes(Sha256(entry::CanonicalJson(NumbersJson(r)))));
}

json::object Release::ToJson() const {
  json::object o;
  o["release"] = id;
  o["holder"] = holder;
  o["log_size"] = log_size;
  o["period"] = period;
  o["from"] = from;
  o["to"] = to;
  o["epsilon"] = epsilon.ToString();
  o["cap_per_subject"] = cap;
  o["privacy_unit"] = "data subject (pseudonym): at most cap decisions each per release; entries without a pseudonym "
                      "(a person not found, or a request about no one) count as one unit each";
  o["mechanism"] = mechanism;
  o["noise_scale"] = fmt::format("{}/{}", scale.t, scale.s);
  o["interval95_half_width"] = half_width;
  o["pack_hash"] = pack_hash;
  o["policies_in_force"] = Strings(policies_in_force);
  o["statements_note"] = statements_note;
  o["unreadable_entries"] = unreadable;
  o["created"] = created;
  o["output_sha256"] = output_hash;
  o["numbers"] = NumbersJson(*this);
  return o;
}

Result<Release> Release::FromJson(const json::value& v) {
  auto bad = [](const std::string& what) { return tl::make_unexpected(DataLoss("a stored release is damaged: " + what)); };
  if (!v.is_object()) return bad("not an object");
  const json::object& o = v.get_object();
  Release r;
  try {
    r.id = std::string(o.at("release").as_string());
    r.holder = std::string(o.at("holder").as_string());
    r.log_size = uint64_t(o.at("log_size").to_number<int64_t>());
    r.period = std::string(o.at("period").as_string());
    r.from = std::string(o.at("from").as_string());
    r.to = std::string(o.at("to").as_string());
    auto eps = Rational::Parse(o.at("epsilon").as_string());
    if (!eps) return bad("epsilon");
    r.epsilon = *eps;
    r.cap = uint64_t(o.at("cap_per_subject").to_number<int64_t>());
    r.mechanism = std::string(o.at("mechanism").as_string());
    auto sc = Rational::Parse(o.at("noise_scale").as_string());
    if (!sc) return bad("noise_scale");
    std::string_view scale_text = o.at("noise_scale").as_string();
    size_t slash = scale_text.find('/');
    r.scale.t = std::stoull(std::string(scale_text.substr(0, slash)));
    r.scale.s = slash == std::string_view::npos ? 1 : std::stoull(std::string(scale_text.substr(slash + 1)));
    r.half_width = o.at("interval95_half_width").to_number<int64_t>();
    r.pack_hash = std::string(o.at("pack_hash").as_string());
    FB_ASSIGN_OR_RETURN(r.policies_in_force, StringsFrom(o, "policies_in_force"));
    r.statements_note = std::string(o.at("statements_note").as_string());
    r.unreadable = uint64_t(o.at("unreadable_entries").to_number<int64_t>());
    r.created = o.at("created").to_number<int64_t>();
    r.output_hash = std::string(o.at("output_sha256").as_string());
    const json::object& n = o.at("numbers").as_object();
    const json::object& voc = n.at("vocabulary").as_object();
    FB_ASSIGN_OR_RETURN(r.vocabulary.periods, StringsFrom(voc, "periods"));
    FB_ASSIGN_OR_RETURN(r.vocabulary.requester_types, StringsFrom(voc, "requester_types"));
    FB_ASSIGN_OR_RETURN(r.vocabulary.purposes, StringsFrom(voc, "purposes"));
    FB_ASSIGN_OR_RETURN(r.vocabulary.decisions, StringsFrom(voc, "decisions"));
    FB_ASSIGN_OR_RETURN(r.vocabulary.roles, StringsFrom(voc, "roles"));
    for (const json::value& c : n.at("cells").as_array()) r.noisy.push_back(c.to_number<int64_t>());
    r.outside_vocabulary = n.at("outside_vocabulary").to_number<int64_t>();
    for (const json::value& sv : n.at("statements").as_array()) {
      const json::object& s = sv.as_object();
      r.statements.push_back(Statement{std::string(s.at("guarantee").as_string()), std::string(s.at("text").as_string()),
                                       std::string(s.at("because").as_string()),
                                       std::string(s.at("source").as_string())});
    }
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  if (r.noisy.size() != r.vocabulary.cells()) return bad("the number of cells does not match the vocabularies");
  if (OutputHash(r) != r.output_hash) return bad("its numbers do not match their recorded hash");
  return r;
}

Result<Release> MakeRelease(const ReleaseOptions& o, RandomSource& rng) {
  const CountOptions& c = o.count;
  if (!c.log_key) return tl::make_unexpected(InvalidArgument("--log-key: the log's verifier key is required"));
  if (c.to <= c.from) return tl::make_unexpected(InvalidArgument("--to must not be before --from"));
  if (c.to > o.now) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "the period {} has not ended: a release covers whole periods that are over, so that asking for it again "
        "returns the same numbers",
        PeriodName(c.to - 1, c.period))));
  }
  FB_ASSIGN_OR_RETURN(Scale scale, ScaleFor(c.cap, o.epsilon));
  // The holder: the log's origin, from its signed checkpoint.
  auto storage = ledger::PosixStorage::OpenReadOnly(c.log_dir);
  if (!storage) return tl::make_unexpected(NotFound("--dir: `" + c.log_dir + "` is not a log directory"));
  ledger::LogReader reader(*storage, c.log_key);
  FB_ASSIGN_OR_RETURN(ledger::LogReader::Snapshot snap, reader.Latest());
  FB_ASSIGN_OR_RETURN(policy::LoadedPolicy loaded, policy::LoadPolicySet(c.packs));
  if (!loaded.ok()) return tl::make_unexpected(InvalidArgument("--packs: the packs do not load:\n" + loaded.Render()));

  std::string period = c.period == Period::kYear ? "year" : "month";
  std::string from = PeriodName(c.from, c.period), to = PeriodName(c.to - 1, c.period);
  json::object params{{"holder", snap.checkpoint.origin}, {"period", period}, {"from", from},
                      {"to", to},   {"epsilon", o.epsilon.ToString()}, {"cap", c.cap},
                      {"pack_hash", loaded.set->hash}, {"mechanism", kMechanism}};
  std::string id = HexEncode(DigestBytes(Sha256(entry::CanonicalJson(params))));

  FB_ASSIGN_OR_RETURN(BudgetLedger ledger, BudgetLedger::Open(o.ledger_dir, snap.checkpoint.origin, o.yearly_budget));
  FB_ASSIGN_OR_RETURN(std::optional<std::string> stored, ledger.Stored(id));
  if (stored) {
    json::error_code ec;
    json::value v = json::parse(*stored, ec);
    if (ec) return tl::make_unexpected(DataLoss("the stored release " + id + " is not JSON"));
    FB_ASSIGN_OR_RETURN(Release r, Release::FromJson(v));
    if (r.output_hash != ledger.Find(id)->output_hash) {
      return tl::make_unexpected(DataLoss("the stored release " + id + " does not match the hash in the ledger"));
    }
    r.stored = true;
    return r;
  }
  int year = std::stoi(PeriodName(o.now, Period::kYear));
  FB_RETURN_IF_ERROR(ledger.CanCharge(year, o.epsilon));

  FB_ASSIGN_OR_RETURN(Tally tally, CountLog(c));
  FB_ASSIGN_OR_RETURN(std::vector<Statement> statements, ProvedStatements(tally.set));
  Release r;
  r.id = id;
  r.holder = tally.origin;
  r.log_size = tally.log_size;
  r.period = period;
  r.from = from;
  r.to = to;
  r.epsilon = o.epsilon;
  r.cap = c.cap;
  r.mechanism = kMechanism;
  r.scale = scale;
  r.half_width = HalfWidth95(scale);
  r.vocabulary = tally.vocabulary;
  r.pack_hash = tally.pack_hash;
  r.policies_in_force = tally.policies_in_force;
  r.unreadable = tally.unreadable;
  r.created = o.now;
  for (const std::string& h : tally.policies_in_force) {
    if (h != tally.pack_hash) {
      r.statements_note = fmt::format(
          "Some decisions of the period were made under policy {}, not under the pack given ({}): the proved "
          "statements of that pack would not cover them, so none are printed. Make one release per policy period.",
          h, tally.pack_hash);
    }
  }
  if (r.statements_note.empty()) r.statements = std::move(statements);
  r.noisy.reserve(tally.cells.size());
  for (uint64_t n : tally.cells) {
    FB_ASSIGN_OR_RETURN(int64_t noise, SampleDiscreteLaplace(scale.t, scale.s, rng));
    r.noisy.push_back(int64_t(n) + noise);
  }
  FB_ASSIGN_OR_RETURN(int64_t noise, SampleDiscreteLaplace(scale.t, scale.s, rng));
  r.outside_vocabulary = int64_t(tally.outside_vocabulary) + noise;
  r.output_hash = OutputHash(r);
  LedgerEntry le{id, year, o.epsilon, c.cap, kMechanism, r.output_hash, o.now};
  FB_RETURN_IF_ERROR(ledger.Charge(le, entry::CanonicalJson(r.ToJson()) + "\n"));
  return r;
}

}  // namespace firebreak::report
