#include "cli/internal/keys.h"

#include <filesystem>

#include "base/files.h"

namespace firebreak::cli::internal {
namespace {

// A key given inline or as a file holding it.
Result<std::string> KeyText(const std::string& value) {
  std::string text = value;
  if (value.find('+') == std::string::npos || std::filesystem::is_regular_file(value)) {
    FB_ASSIGN_OR_RETURN(text, ReadFile(value));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Result<VerifierKeys> LoadVerifierKeys(const std::string& vkey, const std::vector<std::string>& witnesses,
                                      size_t min_witnesses) {
  auto vtext = KeyText(vkey);
  if (!vtext) return tl::make_unexpected(vtext.error().WithContext("--vkey"));
  auto log = ledger::NoteVerifier::FromKeyText(*vtext);
  if (!log) return tl::make_unexpected(log.error().WithContext("--vkey"));
  VerifierKeys k{*log, {}};
  for (const std::string& w : witnesses) {
    auto text = KeyText(w);
    if (!text) return tl::make_unexpected(text.error().WithContext("--witness " + w));
    auto key = ledger::NoteVerifier::FromKeyText(*text);
    if (!key) return tl::make_unexpected(key.error().WithContext("--witness " + w));
    if (key->type() != ledger::kSigTypeCosignatureV1) {
      return tl::make_unexpected(InvalidArgument("--witness " + w + ": not a cosignature (type 0x04) key"));
    }
    k.witnesses.push_back(*key);
  }
  if (min_witnesses > k.witnesses.size()) {
    return tl::make_unexpected(InvalidArgument("--min-witnesses is larger than the number of --witness keys"));
  }
  return k;
}

}  // namespace firebreak::cli::internal
