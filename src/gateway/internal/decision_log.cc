#include "gateway/internal/decision_log.h"

#include <fmt/format.h>

#include "ledger/cluster_log.h"
#include "ledger/pg_storage.h"

namespace firebreak::gateway::internal {
namespace {

// A log directory: this process is its only writer (wal/lock).
class DirectoryLog : public DecisionLog {
 public:
  static Result<std::unique_ptr<DecisionLog>> Open(const GatewayConfig& config, const ledger::NoteSigner& signer) {
    auto d = std::make_unique<DirectoryLog>();
    FB_ASSIGN_OR_RETURN(d->writer_, ledger::PosixStorage::Open(config.log_dir));
    d->reader_ = ledger::PosixStorage::OpenReadOnly(config.log_dir);
    ledger::AppenderOptions opts;
    opts.publish_interval = config.publish_interval;
    FB_ASSIGN_OR_RETURN(d->appender_, ledger::Appender::Open(*d->writer_, signer, opts));
    return std::unique_ptr<DecisionLog>(std::move(d));
  }

  Status Enqueue(std::string_view entry, DurableCallback on_durable) override {
    FB_RETURN_IF_ERROR(appender_->Enqueue(entry, std::move(on_durable)));
    return Ok();
  }
  Result<uint64_t> Add(std::string_view entry) override { return appender_->Add(entry); }
  Status WaitPublished(uint64_t index, std::chrono::milliseconds timeout) override {
    return appender_->WaitPublished(index, timeout);
  }
  uint64_t sequenced_size() override { return appender_->sequenced_size(); }
  uint64_t published_size() override { return appender_->published_size(); }
  std::string checkpoint() override { return appender_->checkpoint(); }
  ledger::AppenderHealth health() override { return appender_->health(); }
  std::string RenderGauges() override { return ""; }
  ledger::LogStorage& reader() override { return *reader_; }
  Status Close() override { return appender_->Close(); }

 private:
  std::unique_ptr<ledger::PosixStorage> writer_;
  std::unique_ptr<ledger::LogStorage> reader_;
  std::unique_ptr<ledger::Appender> appender_;
};

// A log in PostgreSQL shared by the holder's nodes.
class SharedLog : public DecisionLog {
 public:
  static Result<std::unique_ptr<DecisionLog>> Open(const GatewayConfig& config, const ledger::NoteSigner& signer) {
    auto d = std::make_unique<SharedLog>();
    ledger::ClusterLogOptions o;
    o.url = config.log_database;
    o.node = config.node_name;
    o.lease_term = config.lease_term;
    o.publish_interval = config.publish_interval;
    // A request waits for its entry at most this long, then fails closed.
    o.forward_timeout = std::max<std::chrono::milliseconds>(config.lease_term * 3, std::chrono::seconds(5));
    FB_ASSIGN_OR_RETURN(d->log_, ledger::ClusterLog::Open(o, signer));
    return std::unique_ptr<DecisionLog>(std::move(d));
  }

  Status Enqueue(std::string_view entry, DurableCallback on_durable) override {
    return log_->Enqueue(entry, std::move(on_durable));
  }
  Result<uint64_t> Add(std::string_view entry) override { return log_->Add(entry); }
  Status WaitPublished(uint64_t index, std::chrono::milliseconds timeout) override {
    return log_->WaitPublished(index, timeout);
  }
  uint64_t sequenced_size() override {
    // What is durable, whichever node sequenced it (receipts: 404 beyond).
    auto n = log_->reader().SequencedSize();
    return n ? std::max(*n, log_->published_size()) : log_->published_size();
  }
  uint64_t published_size() override { return log_->published_size(); }
  std::string checkpoint() override { return log_->checkpoint(); }
  ledger::AppenderHealth health() override {
    ledger::ClusterLogHealth c = log_->health();
    ledger::AppenderHealth h;
    // A failed sequencer steps down and another node (or this one, anew)
    // takes over: not a permanent failure of this node.
    h.publish_stalled = c.publish_stalled;
    h.last_error = c.last_error;
    return h;
  }
  std::string RenderGauges() override {
    ledger::ClusterLogHealth c = log_->health();
    return fmt::format(
        "# TYPE firebreak_log_sequencer gauge\nfirebreak_log_sequencer {}\n"
        "# TYPE firebreak_log_lease_epoch gauge\nfirebreak_log_lease_epoch {}\n"
        "# TYPE firebreak_log_leaderships_total counter\nfirebreak_log_leaderships_total {}\n"
        "# TYPE firebreak_log_forwarded_waiting gauge\nfirebreak_log_forwarded_waiting {}\n",
        c.leading ? 1 : 0, c.epoch, c.leaderships, c.forwarded_waiting);
  }
  ledger::LogStorage& reader() override { return log_->reader(); }
  Status Close() override { return log_->Close(); }

 private:
  std::unique_ptr<ledger::ClusterLog> log_;
};

}  // namespace

Result<std::unique_ptr<DecisionLog>> OpenDecisionLog(const GatewayConfig& config, const ledger::NoteSigner& signer) {
  if (!config.log_database.empty()) return SharedLog::Open(config, signer);
  return DirectoryLog::Open(config, signer);
}

}  // namespace firebreak::gateway::internal
