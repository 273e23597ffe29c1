// Small file helpers with `Result` errors naming the path and errno text.
//
// Thread model: thread-safe.
//
//   FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace firebreak {

Result<std::string> ReadFile(const std::string& path);

// Writes `data` to `path` through a temporary file, fsync and rename, so a
// reader sees the old contents or the new, never a torn file.
Status WriteFileAtomically(const std::string& path, std::string_view data, int mode = 0644);

// `path` itself when it is a regular file; otherwise every regular file below
// the directory `path` whose name ends in `extension` (".fbp"), sorted.
Result<std::vector<std::string>> FindFiles(const std::string& path, std::string_view extension);

}  // namespace firebreak
