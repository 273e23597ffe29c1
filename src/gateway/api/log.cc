// The public log (tlog-tiles): GET /log/checkpoint and GET /log/tile/{path}
// (docs/log-format.md).
#include "gateway/api/api.h"
#include "gateway/internal/service.h"
#include "ledger/tiles.h"

namespace firebreak::gateway::internal {

HttpResponse Service::Tile(const std::string& path) {
  if (path != "checkpoint" && !ledger::ParseTilePath(path)) {
    return ProblemResponse({404, "", "not a tlog-tiles path"});
  }
  auto data = log_reader_->ReadFile(path);
  if (!data) {
    if (data.error().code() == ErrorCode::kNotFound) return ProblemResponse({404, "", "no such tile"});
    metrics_.Count("firebreak_errors_total", "kind=\"tile\"");
    if (data.error().code() == ErrorCode::kUnavailable) return ProblemResponse({503, "", "the log cannot be read now"});
    return ProblemResponse({500, "", "could not read the log"});
  }
  HttpResponse out;
  out.body = std::move(*data);
  if (path == "checkpoint" && witnessing_) {
    // With its cosignatures (witnessing.h says which checkpoint).
    std::string served = witnessing_->Served();
    if (!served.empty()) out.body = std::move(served);
  }
  if (path == "checkpoint") {
    out.content_type = "text/plain; charset=utf-8";
    out.headers.emplace_back("Cache-Control", "no-cache");
  } else {
    out.content_type = "application/octet-stream";
    bool partial = path.find(".p/") != std::string::npos;
    out.headers.emplace_back("Cache-Control", partial ? "public, max-age=60" : "public, max-age=31536000, immutable");
  }
  return out;
}

}  // namespace firebreak::gateway::internal
