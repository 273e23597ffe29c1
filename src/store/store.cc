// Parts of the store contract shared by every implementation.
#include "store/store.h"

#include <cctype>

namespace firebreak::store {

std::string_view ScopeName(Scope s) {
  switch (s) {
    case Scope::kRequester: return "requester";
    case Scope::kHolder: return "holder";
    case Scope::kAdmin: return "admin";
    case Scope::kAnalyst: return "analyst";
    case Scope::kOversight: return "oversight";
    case Scope::kIntake: return "intake";
    case Scope::kAdvocate: return "advocate";
  }
  return "requester";
}

bool ParseScope(std::string_view name, Scope* out) {
  for (Scope s : {Scope::kRequester, Scope::kHolder, Scope::kAdmin, Scope::kAnalyst, Scope::kOversight, Scope::kIntake,
                  Scope::kAdvocate}) {
    if (ScopeName(s) == name) {
      *out = s;
      return true;
    }
  }
  return false;
}

namespace {
void AppendFolded(std::string& out, std::string_view name) {
  bool space = false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    // Letters (including UTF-8 continuation and lead bytes) are kept; any
    // other run becomes one space, so "O'Neill", "O Neill" and " o neill "
    // match.
    if (std::isalpha(u) || u >= 0x80) {
      if (space && !out.empty() && out.back() != '|') out += ' ';
      space = false;
      out += static_cast<char>(std::tolower(u));
    } else {
      space = true;
    }
  }
}
}  // namespace

Status CheckApplicationChoice(const ApplicationChoice& choice) {
  if (choice.recipient.empty()) {
    return tl::make_unexpected(InvalidArgument("application choice: the recipient the subject named is empty"));
  }
  if (choice.recipient.size() > kMaxRecipientLength) {
    return tl::make_unexpected(InvalidArgument("application choice: the recipient's organisation id is longer than " +
                                               std::to_string(kMaxRecipientLength) + " characters"));
  }
  if (choice.recorded_by.empty()) {
    return tl::make_unexpected(InvalidArgument("application choice: who took the choice is not recorded"));
  }
  const std::string& d = choice.recorded_on;
  bool date = d.size() == 10 && d[4] == '-' && d[7] == '-';
  for (size_t i = 0; date && i < d.size(); ++i) {
    if (i != 4 && i != 7 && !std::isdigit(static_cast<unsigned char>(d[i]))) date = false;
  }
  if (!date) {
    return tl::make_unexpected(
        InvalidArgument("application choice: the date it was recorded must be YYYY-MM-DD, not `" + d + "`"));
  }
  if (choice.categories.size() > kMaxChosenCategories) {
    return tl::make_unexpected(InvalidArgument("application choice: more than " + std::to_string(kMaxChosenCategories) +
                                               " categories chosen"));
  }
  for (const std::string& c : choice.categories) {
    if (c.empty() || c.find(',') != std::string::npos) {
      return tl::make_unexpected(InvalidArgument("application choice: a category code is empty or holds a comma"));
    }
  }
  return Ok();
}

std::string IdentityKey(std::string_view given_name, std::string_view family_name,
                        std::string_view date_of_birth) {
  std::string key;
  key.reserve(given_name.size() + family_name.size() + date_of_birth.size() + 2);
  AppendFolded(key, given_name);
  key += '|';
  AppendFolded(key, family_name);
  key += '|';
  key += date_of_birth;
  return key;
}

}  // namespace firebreak::store
