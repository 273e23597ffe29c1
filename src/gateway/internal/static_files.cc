// The console's static files (see static_files.h).
#include "gateway/internal/static_files.h"

#include <filesystem>

#include "base/files.h"

namespace firebreak::gateway::internal {
namespace fs = std::filesystem;

std::string_view ContentTypeFor(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
      {".json", "application/json"},         {".png", "image/png"},
      {".ico", "image/x-icon"},              {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (name.size() > ext.size() && name.substr(name.size() - ext.size()) == ext) return type;
  }
  return "";
}

Result<StaticFiles> StaticFiles::Load(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return tl::make_unexpected(NotFound("the console's files: " + root + " is not a directory"));
  }
  StaticFiles out;
  size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string name = fs::relative(it->path(), root, ec).generic_string();
    if (ec) break;
    std::string_view type = ContentTypeFor(name);
    if (type.empty()) continue;
    FB_ASSIGN_OR_RETURN(std::string body, ReadFile(it->path().string()));
    total += body.size();
    if (total > (16u << 20)) {
      return tl::make_unexpected(InvalidArgument("the console's files under " + root + " exceed 16 MiB"));
    }
    out.files_[name] = File{std::string(type), std::move(body)};
  }
  if (ec) return tl::make_unexpected(IoError("the console's files: " + root + ": " + ec.message()));
  if (!out.files_.count("index.html")) {
    return tl::make_unexpected(NotFound("the console's files: no index.html in " + root +
                                        " (build it: npm ci && npm run build in web/console)"));
  }
  return out;
}

http::Response StaticFiles::Serve(std::string_view name) const {
  http::Response r;
  r.headers.emplace_back("Content-Security-Policy", kConsoleCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  if (name.empty()) name = "index.html";
  auto it = files_.find(name);
  if (it == files_.end()) {
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "not found\n";
    return r;
  }
  r.content_type = it->second.content_type;
  r.body = it->second.body;
  // Vite names assets by content hash: they never change.
  bool immutable = name.rfind("assets/", 0) == 0;
  r.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  return r;
}

}  // namespace firebreak::gateway::internal
