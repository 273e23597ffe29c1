#include "report/budget.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "entry/entry.h"

namespace firebreak::report {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool SafeId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

BudgetLedger::BudgetLedger(BudgetLedger&& o) noexcept
    : dir_(std::move(o.dir_)), holder_(std::move(o.holder_)), budget_(o.budget_), entries_(std::move(o.entries_)),
      lock_fd_(o.lock_fd_) {
  o.lock_fd_ = -1;
}

BudgetLedger::~BudgetLedger() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

Result<BudgetLedger> BudgetLedger::Open(const std::string& dir, const std::string& holder,
                                        std::optional<Rational> yearly_budget) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "releases", ec);
  if (ec) return tl::make_unexpected(IoError("--ledger: cannot create `" + dir + "`: " + ec.message()));
  BudgetLedger l;
  l.dir_ = dir;
  l.holder_ = holder;
  std::string lock = (fs::path(dir) / "lock").string();
  l.lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (l.lock_fd_ < 0) return tl::make_unexpected(IoError("--ledger: cannot open `" + lock + "`"));
  if (flock(l.lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return tl::make_unexpected(Unavailable("--ledger: another report is using `" + dir + "`; try again when it ends"));
  }
  std::string path = (fs::path(dir) / "ledger.json").string();
  if (!fs::exists(path, ec)) {
    if (!yearly_budget) {
      return tl::make_unexpected(InvalidArgument(
          "--ledger: `" + dir + "` holds no budget ledger yet; give --yearly-budget to create it"));
    }
    l.budget_ = *yearly_budget;
    FB_RETURN_IF_ERROR(l.Save());
    return l;
  }
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto bad = [&](const std::string& what) {
    return tl::make_unexpected(DataLoss("--ledger: `" + path + "` is damaged: " + what));
  };
  json::error_code jec;
  json::value v = json::parse(text, jec);
  if (jec || !v.is_object()) return bad("not a JSON object");
  const json::object& o = v.get_object();
  const json::value* h = o.if_contains("holder");
  const json::value* b = o.if_contains("yearly_budget");
  const json::value* rs = o.if_contains("releases");
  if (!h || !h->is_string() || !b || !b->is_string() || !rs || !rs->is_array()) {
    return bad("`holder`, `yearly_budget` and `releases` are required");
  }
  if (h->get_string() != holder) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "--ledger: `{}` is the budget of `{}`, not of this log's holder `{}`", dir, std::string(h->get_string()), holder)));
  }
  auto budget = Rational::Parse(b->get_string());
  if (!budget) return bad("yearly_budget: " + budget.error().message());
  l.budget_ = *budget;
  if (yearly_budget && !(*yearly_budget == l.budget_)) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "--yearly-budget {} differs from the budget {} the ledger was created with; the budget is fixed once set",
        yearly_budget->ToString(), l.budget_.ToString())));
  }
  for (const json::value& rv : rs->get_array()) {
    if (!rv.is_object()) return bad("a release is not an object");
    const json::object& r = rv.get_object();
    LedgerEntry e;
    try {
      e.id = std::string(r.at("id").as_string());
      e.year = int(r.at("year").to_number<int64_t>());
      auto eps = Rational::Parse(r.at("epsilon").as_string());
      if (!eps) return bad("epsilon: " + eps.error().message());
      e.epsilon = *eps;
      e.cap = uint64_t(r.at("cap").to_number<int64_t>());
      e.mechanism = std::string(r.at("mechanism").as_string());
      e.output_hash = std::string(r.at("output_sha256").as_string());
      e.created = r.at("created").to_number<int64_t>();
    } catch (const std::exception&) {
      return bad("a release lacks id, year, epsilon, cap, mechanism, output_sha256 or created");
    }
    if (!SafeId(e.id)) return bad("a release id is not hex");
    l.entries_.push_back(std::move(e));
  }
  return l;
}

Status BudgetLedger::Save() const {
  json::array rs;
  for (const LedgerEntry& e : entries_) {
    rs.push_back(json::object{{"id", e.id},
                              {"year", e.year},
                              {"epsilon", e.epsilon.ToString()},
                              {"cap", e.cap},
                              {"mechanism", e.mechanism},
                              {"output_sha256", e.output_hash},
                              {"created", e.created}});
  }
  json::object o{{"holder", holder_}, {"yearly_budget", budget_.ToString()}, {"releases", std::move(rs)}};
  return WriteFileAtomically((fs::path(dir_) / "ledger.json").string(), entry::CanonicalJson(o) + "\n", 0600);
}

Rational BudgetLedger::Spent(int year) const {
  Rational sum{0, 1};
  for (const LedgerEntry& e : entries_) {
    if (e.year == year) sum = sum.num == 0 ? e.epsilon : sum.Plus(e.epsilon);
  }
  return sum;
}

const LedgerEntry* BudgetLedger::Find(const std::string& id) const {
  for (const LedgerEntry& e : entries_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

Result<std::optional<std::string>> BudgetLedger::Stored(const std::string& id) const {
  if (!Find(id)) return std::optional<std::string>();
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile((fs::path(dir_) / "releases" / (id + ".json")).string()));
  return std::optional<std::string>(std::move(text));
}

Status BudgetLedger::CanCharge(int year, const Rational& epsilon) const {
  Rational spent = Spent(year);
  Rational after = spent.num == 0 ? epsilon : spent.Plus(epsilon);
  if (!after.LessOrEqual(budget_)) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "over budget: this release's ε = {} would bring {}'s total to {}, more than the yearly budget of {} "
        "({} already spent); nothing was released",
        epsilon.ToString(), year, after.ToString(), budget_.ToString(), spent.num == 0 ? "0" : spent.ToString())));
  }
  return Ok();
}

Status BudgetLedger::Charge(const LedgerEntry& entry, const std::string& output_json) {
  if (!SafeId(entry.id)) return tl::make_unexpected(InvalidArgument("a release id must be hex"));
  if (Find(entry.id)) return tl::make_unexpected(AlreadyExists("release " + entry.id + " is already recorded"));
  FB_RETURN_IF_ERROR(CanCharge(entry.year, entry.epsilon));
  FB_RETURN_IF_ERROR(
      WriteFileAtomically((fs::path(dir_) / "releases" / (entry.id + ".json")).string(), output_json, 0600));
  entries_.push_back(entry);
  Status saved = Save();
  if (!saved) entries_.pop_back();
  return saved;
}

}  // namespace firebreak::report
