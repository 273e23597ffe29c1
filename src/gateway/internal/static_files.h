// The console's static files (web/console/dist), served under /console/.
//
// Every file under the root is read once, when the gateway starts, into
// memory: a request is a lookup by exact name in that table, so no path
// (`..`, `%2e%2e`, a symlink added later, a directory) can reach anything
// else. Each answer carries a strict Content-Security-Policy (`default-src
// 'self'`, no inline script or style, no frames), `nosniff`, no referrer and
// a content type from the file's extension (unknown extensions are not
// served).
//
// Error model: `Load` fails on a root that is not a readable directory;
// an unknown name is a 404.
// Thread model: immutable after `Load`; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/error.h"
#include "http/http.h"

namespace firebreak::gateway::internal {

inline constexpr char kConsoleCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

class StaticFiles {
 public:
  // Reads every regular file under `root` (at most 16 MiB in all).
  static Result<StaticFiles> Load(const std::string& root);
  StaticFiles() = default;

  // `name` is the path after "/console/" ("" for the index page).
  http::Response Serve(std::string_view name) const;
  size_t size() const { return files_.size(); }

 private:
  struct File {
    std::string content_type;
    std::string body;
  };
  std::map<std::string, File, std::less<>> files_;
};

// The content type for a file name, or "" when it is not served.
std::string_view ContentTypeFor(std::string_view name);

}  // namespace firebreak::gateway::internal
