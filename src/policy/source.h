// Source files and positions, shared by the lexer, parser, checker and the
// verifier so every tool points at "policy.fbp:12:7" the same way.
//
// Thread model: `SourceManager` is thread-compatible; after loading it is only
// read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::policy {

using FileId = uint32_t;

struct Span {
  FileId file = 0;
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based, in bytes
  uint32_t offset = 0;  // byte offset of the first character
  uint32_t length = 0;
};

class SourceManager {
 public:
  FileId Add(std::string path, std::string text);
  const std::string& path(FileId id) const { return files_[id].path; }
  const std::string& text(FileId id) const { return files_[id].text; }
  // The text of 1-based `line` without its newline.
  std::string_view Line(FileId id, uint32_t line) const;
  size_t size() const { return files_.size(); }

 private:
  struct File {
    std::string path;
    std::string text;
    std::vector<uint32_t> line_starts;
  };
  std::vector<File> files_;
};

}  // namespace firebreak::policy
