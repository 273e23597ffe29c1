// The decision log as the service sees it, whichever way it is kept: a log
// directory written by this process alone (the Appender over PosixStorage),
// or a log in PostgreSQL shared by several gateway nodes, one of which
// sequences at a time (ledger::ClusterLog; docs/operations.md, "Several
// nodes"). The method names are the Appender's, so the service reads the
// same either way.
//
// Error model: `Error`s, as the Appender's; on PostgreSQL a forwarded entry
// not durable in time is kUnavailable (a 503).
// Thread model: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "gateway/gateway.h"
#include "ledger/appender.h"
#include "ledger/note.h"
#include "ledger/storage.h"

namespace firebreak::gateway::internal {

class DecisionLog {
 public:
  virtual ~DecisionLog() = default;
  using DurableCallback = ledger::Appender::DurableCallback;
  // `on_durable` is called once with the entry's index once durable, or the
  // error that stopped it; never when this returns an error.
  virtual Status Enqueue(std::string_view entry, DurableCallback on_durable) = 0;
  virtual Result<uint64_t> Add(std::string_view entry) = 0;
  virtual Status WaitPublished(uint64_t index, std::chrono::milliseconds timeout) = 0;
  virtual uint64_t sequenced_size() = 0;
  virtual uint64_t published_size() = 0;
  virtual std::string checkpoint() = 0;
  virtual ledger::AppenderHealth health() = 0;
  // Prometheus lines of the log's own (empty for a log directory).
  virtual std::string RenderGauges() = 0;
  // The published log, for tiles, bundles, the checkpoint and receipts.
  virtual ledger::LogStorage& reader() = 0;
  virtual Status Close() = 0;
};

// The log the configuration names: `log.dir`, or `log.database`.
Result<std::unique_ptr<DecisionLog>> OpenDecisionLog(const GatewayConfig& config, const ledger::NoteSigner& signer);

}  // namespace firebreak::gateway::internal
