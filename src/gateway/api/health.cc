// GET /healthz, GET /readyz (answered in Service::Dispatch from `ready`) and
// GET /metrics (docs/operations.md).
#include <fmt/format.h>

#include "gateway/api/api.h"
#include "gateway/internal/service.h"

namespace firebreak::gateway::internal {

bool Service::ready() const {
  if (closed_.load() || policy_.load() == nullptr || !appender_) return false;
  ledger::AppenderHealth h = appender_->health();
  return !h.failed && !h.publish_stalled;
}

HttpResponse Service::RenderMetrics() {
  std::string extra;
  if (appender_) {
    ledger::AppenderHealth h = appender_->health();
    extra += fmt::format("# TYPE firebreak_log_sequenced_size gauge\nfirebreak_log_sequenced_size {}\n",
                         appender_->sequenced_size());
    extra += fmt::format("# TYPE firebreak_log_published_size gauge\nfirebreak_log_published_size {}\n",
                         appender_->published_size());
    extra += fmt::format("# TYPE firebreak_log_publish_retries_total counter\nfirebreak_log_publish_retries_total {}\n",
                         h.publish_retries);
    extra += fmt::format("# TYPE firebreak_log_failed gauge\nfirebreak_log_failed{{reason=\"{}\"}} {}\n",
                         h.failed ? "appender-stopped" : (h.publish_stalled ? "publishing-stalled" : ""),
                         h.failed || h.publish_stalled ? 1 : 0);
  }
  if (appender_) extra += appender_->RenderGauges();
  if (witnessing_) extra += witnessing_->RenderGauges();
  extra += RenderTrackerGauges();
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (state) {
    extra += fmt::format("# TYPE firebreak_policy_info gauge\nfirebreak_policy_info{{hash=\"{}\",shadow=\"{}\"}} 1\n",
                         state->live->policy_hash(), state->shadow ? state->shadow->policy_hash() : "");
  }
  HttpResponse out;
  out.content_type = "text/plain; version=0.0.4";
  out.body = metrics_.Render(extra);
  return out;
}

}  // namespace firebreak::gateway::internal
