#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/files.h"
#include "policy/policy.h"

namespace firebreak::policy {
namespace fs = std::filesystem;

namespace {

class Loader {
 public:
  explicit Loader(LoadedPolicy& out) : out_(out) {}

  // Loads the pack in `dir`; `from` is the import clause that named it, or
  // null for a pack named on the command line.
  Status Load(const fs::path& dir, const Clause* from) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(dir, ec);
    if (ec) canon = dir;
    if (loaded_.count(canon.string())) return Ok();
    fs::path manifest = dir / kManifestName;
    if (!fs::is_regular_file(manifest, ec)) {
      std::string why = fs::is_directory(dir, ec)
                            ? fmt::format("{} has no {}", dir.string(), kManifestName)
                            : fmt::format("no such directory: {}", dir.string());
      if (from) {
        out_.diagnostics.Error(DiagnosticId::kBadImport, from->value.span,
                               fmt::format("cannot import \"{}\": {}", from->value.text, why));
        return Ok();
      }
      return tl::make_unexpected(InvalidArgument("not a policy pack: " + why));
    }
    loaded_.insert(canon.string());

    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == kPolicyExtension &&
          entry.path().filename() != kManifestName) {
        files.push_back(entry.path());
      }
    }
    if (ec) return tl::make_unexpected(IoError("cannot list " + dir.string() + ": " + ec.message()));
    std::sort(files.begin(), files.end());
    files.insert(files.begin(), manifest);

    LoadedPack pack;
    pack.info.dir = dir.lexically_normal().string();
    std::vector<const Clause*> imports;
    for (const fs::path& f : files) {
      FB_ASSIGN_OR_RETURN(std::string text, ReadFile(f.string()));
      FileId id = out_.sources->Add(f.lexically_normal().string(), std::move(text));
      pack.modules.push_back(Parse(*out_.sources, id, out_.diagnostics));
    }
    bool have_manifest = false;
    for (size_t i = 0; i < pack.modules.size(); ++i) {
      for (const Item& item : pack.modules[i].items) {
        if (item.kind != ItemKind::kPack) continue;
        if (i != 0 || have_manifest) {
          out_.diagnostics.Error(
              DiagnosticId::kNoPack, item.span,
              fmt::format("a `pack` item belongs in {}, once", kManifestName));
          continue;
        }
        have_manifest = true;
        pack.info.name = item.name;
        pack.manifest_span = item.span;
        if (const Clause* t = item.Find(Keyword::kTitle)) pack.info.title = t->value.text;
        if (const Clause* l = item.Find(Keyword::kLayer)) {
          const std::string& v = l->value.text;
          if (v == "national") pack.info.layer = Layer::kNational;
          else if (v == "holder") pack.info.layer = Layer::kHolder;
          else if (v == "agreement") pack.info.layer = Layer::kAgreement;
          else {
            out_.diagnostics.Error(DiagnosticId::kBadLayer, l->value.span,
                                   fmt::format("unknown layer `{}`: use national, holder or "
                                               "agreement",
                                               v));
          }
        }
      }
    }
    if (!have_manifest) {
      out_.diagnostics.Error(DiagnosticId::kNoPack, Span{pack.modules[0].file, 1, 1, 0, 0},
                             fmt::format("{} must declare the pack: `pack NAME {{ layer national }}`",
                                         manifest.string()));
      pack.info.name = dir.filename().string();
    }
    // Imports are resolved after this pack is recorded, so cycles terminate.
    std::vector<std::pair<fs::path, const Clause*>> pending;
    out_.packs.push_back(std::move(pack));
    size_t index = out_.packs.size() - 1;
    for (const Item& item : out_.packs[index].modules[0].items) {
      if (item.kind != ItemKind::kPack) continue;
      for (const Clause& c : item.clauses) {
        if (c.keyword == Keyword::kImport) pending.push_back({dir / c.value.text, &c});
      }
    }
    for (auto& [path, clause] : pending) FB_RETURN_IF_ERROR(Load(path, clause));
    return Ok();
  }

 private:
  LoadedPolicy& out_;
  std::set<std::string> loaded_;
};

}  // namespace

Result<LoadedPolicy> LoadPolicySet(const std::vector<std::string>& pack_dirs) {
  LoadedPolicy out;
  out.sources = std::make_shared<SourceManager>();
  if (pack_dirs.empty()) return tl::make_unexpected(InvalidArgument("no policy pack given"));
  Loader loader(out);
  for (const std::string& d : pack_dirs) FB_RETURN_IF_ERROR(loader.Load(fs::path(d), nullptr));
  if (out.diagnostics.has_errors()) return out;  // parse errors: checking would only add noise
  auto set = Check(*out.sources, out.packs, out.diagnostics);
  if (set && !out.diagnostics.has_errors()) {
    set->sources = out.sources;
    out.set = std::move(set);
  }
  return out;
}

Result<std::vector<std::string>> FindPacks(const std::string& path) {
  std::error_code ec;
  fs::path root(path);
  if (!fs::is_directory(root, ec)) {
    return tl::make_unexpected(InvalidArgument("not a directory: " + path));
  }
  if (fs::is_regular_file(root / kManifestName, ec)) return std::vector<std::string>{path};
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (it->is_directory() && fs::is_regular_file(it->path() / kManifestName)) {
      out.push_back(it->path().lexically_normal().string());
    }
  }
  if (ec) return tl::make_unexpected(IoError("cannot list " + path + ": " + ec.message()));
  std::sort(out.begin(), out.end());
  if (out.empty()) {
    return tl::make_unexpected(InvalidArgument(path + " holds no policy pack (no " +
                                               std::string(kManifestName) + " at or below it)"));
  }
  return out;
}

Result<std::vector<std::string>> FindPolicyFiles(const std::string& path) {
  return FindFiles(path, kPolicyExtension);
}

}  // namespace firebreak::policy
