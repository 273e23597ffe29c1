// The holder's privacy budget and the releases made under it: a directory
// in the holder's state (docs/reports.md), `DIR/ledger.json` (the yearly
// budget and one line per release: id, year, ε, cap, mechanism, hash of its
// output, when) and `DIR/releases/<id>.json` (each release's numbers as
// published). A plain directory, not the store: a report is run by the DPO
// from a copy of the log, often on another machine than the gateway, and the
// ledger must go with the reports, be readable without Firebreak and be
// backed up with them.
//
// The ledger is the commit point: a release's file is written first, then
// ledger.json is replaced atomically; a release counts (and can be returned
// again) only once ledger.json lists it. ε is a rational, summed exactly.
//
// Error model: kFailedPrecondition for an over-budget charge or a ledger of
// another holder; kUnavailable while another process holds the ledger;
// kDataLoss when a stored release no longer matches its recorded hash.
// Thread model: one `BudgetLedger` per process at a time (flock on DIR/lock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "report/dlaplace.h"

namespace firebreak::report {

struct LedgerEntry {
  std::string id;
  int year = 0;
  Rational epsilon;
  uint64_t cap = 0;
  std::string mechanism, output_hash;
  int64_t created = 0;
};

class BudgetLedger {
 public:
  // Opens the ledger in `dir`, creating it with `yearly_budget` when it does
  // not exist (InvalidArgument when it does not and no budget is given).
  static Result<BudgetLedger> Open(const std::string& dir, const std::string& holder,
                                   std::optional<Rational> yearly_budget);
  BudgetLedger(BudgetLedger&& o) noexcept;
  BudgetLedger& operator=(BudgetLedger&&) = delete;
  ~BudgetLedger();

  const Rational& yearly_budget() const { return budget_; }
  Rational Spent(int year) const;
  const std::vector<LedgerEntry>& entries() const { return entries_; }

  // The stored output of release `id` (its JSON text), checked against its
  // recorded hash by the caller; nullopt when there is none.
  Result<std::optional<std::string>> Stored(const std::string& id) const;
  const LedgerEntry* Find(const std::string& id) const;
  // OK when `epsilon` more in `year` stays within the budget.
  Status CanCharge(int year, const Rational& epsilon) const;
  // Records a release: writes its output, then the ledger. Refused when over
  // budget or when `entry.id` is already recorded.
  Status Charge(const LedgerEntry& entry, const std::string& output_json);

 private:
  BudgetLedger() = default;
  Status Save() const;
  std::string dir_, holder_;
  Rational budget_;
  std::vector<LedgerEntry> entries_;
  int lock_fd_ = -1;
};

}  // namespace firebreak::report
