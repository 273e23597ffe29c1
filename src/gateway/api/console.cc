// The console's side of the gateway's service: its static files and the
// dispatch of its JSON API (the views are in internal/console.h).
#include <cstdio>
#include <filesystem>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "gateway/api/api.h"
#include "gateway/internal/service.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

HttpResponse Forbidden(std::string_view message) { return ProblemResponse({403, "", std::string(message)}); }

// One comparison (diff or replay) at a time: the others are told to wait.
HttpResponse ComparisonRunning() {
  HttpResponse r = ProblemResponse({503, "", "a comparison is running; try again"});
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

}  // namespace

Status Service::OpenConsole() {
  console_ = std::make_unique<Console>(*log_, keyring_, config_.log_dir);
  // A failure here is retried by the first console call.
  console_warmup_ = std::thread([c = console_.get()] {
    auto t0 = std::chrono::steady_clock::now();
    Status st = c->Refresh();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string line = json::serialize(json::object{{"ts", NowSeconds()},
                                                    {"event", "console-index"},
                                                    {"entries", c->indexed()},
                                                    {"ok", bool(st)},
                                                    {"millis", int64_t(secs * 1000)}}) +
                       "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  });
  std::string dir = config_.console_dir;
  bool configured = !dir.empty();
#ifdef FIREBREAK_CONSOLE_DIR
  if (dir.empty()) dir = FIREBREAK_CONSOLE_DIR;
#endif
  if (dir.empty()) return Ok();
  std::error_code ec;
  if (!configured && !std::filesystem::exists(dir + "/index.html", ec)) return Ok();  // not built
  FB_ASSIGN_OR_RETURN(StaticFiles files, StaticFiles::Load(dir));
  console_files_ = std::move(files);
  return Ok();
}

void Service::StopConsole() {
  if (console_) console_->Stop();
  if (console_warmup_.joinable()) console_warmup_.join();
}

HttpResponse Service::ConsoleFile(const std::string& path) {
  if (path == "/console") {
    HttpResponse r;
    r.status = 308;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "/console/\n";
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  if (!console_files_) {
    HttpResponse r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "the console is not built on this gateway (scripts/setup.sh builds web/console)\n";
    return r;
  }
  return console_files_->Serve(std::string_view(path).substr(9));
}

HttpResponse Service::ConsoleApi(const std::string& path, const std::string& query, const std::string& body,
                                 const store::Organisation& org, bool by_certificate) {
  store::Scope scope = org.scope;
  if (scope != store::Scope::kAdmin && scope != store::Scope::kAnalyst && scope != store::Scope::kOversight) {
    return Forbidden("the console is for the holder's DPO, its analysts and oversight bodies");
  }
  if (!by_certificate) {
    return Forbidden("the console needs a client certificate; bearer tokens are never accepted for it");
  }
  if (path == "/v1/console/policies/diff") {
    // It reads pack directories on the gateway's disk and runs the solver:
    // the DPO only, one at a time.
    if (scope != store::Scope::kAdmin) return Forbidden("comparing policies is for the holder's DPO (admin scope)");
    std::unique_lock lock(console_diff_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return ComparisonRunning();
    std::shared_ptr<const PolicyState> state = policy_.load();
    if (!state) {
      return ProblemResponse({503, "", "no policy is loaded"});
    }
    return ComparePolicies(*state->live, body, config_.shadow_packs);
  }
  if (path == "/v1/console/policies/replay") {
    // It reads pack directories on the gateway's disk and up to 10,000
    // entries of the log: the DPO only, one comparison (diff or replay) at a
    // time.
    if (scope != store::Scope::kAdmin) return Forbidden("replaying decisions is for the holder's DPO (admin scope)");
    std::unique_lock lock(console_diff_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return ComparisonRunning();
    ConsoleContext ctx;
    if (auto state = policy_.load()) ctx.live = state->live;
    return console_->Replay(body, ctx);
  }
  ConsoleContext ctx;
  if (auto state = policy_.load()) {
    ctx.live = state->live;
    ctx.packs = state->packs;
  }
  if (witnessing_) ctx.served_checkpoint = witnessing_->Served();
  ctx.sequenced_size = appender_ ? appender_->sequenced_size() : 0;
  ctx.witnesses_configured = config_.witnesses.size();
  ctx.witness_quorum = config_.witness_quorum;
  ctx.log_healthy = ready();
  ctx.org_id = org.id;
  ctx.org_name = org.name;
  ctx.scope = std::string(store::ScopeName(scope));
  ctx.now = NowSeconds();
  ConsoleAccess access = scope == store::Scope::kOversight ? ConsoleAccess::kOversight : ConsoleAccess::kHolder;
  return console_->Handle(std::string_view(path).substr(12), query, access, ctx);
}

}  // namespace firebreak::gateway::internal
