// Parts of the store contract shared by every implementation.
#include "store/store.h"

#include <cctype>

#include "base/encoding.h"

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

// The checks below name a field only once this has failed: no message is
// built for text that passes.
bool IsStoredText(std::string_view text) { return text.find('\0') == std::string_view::npos && IsValidUtf8(text); }

Status CheckStoredText(std::string_view what, std::string_view text) {
  FB_RETURN_IF_ERROR(CheckUtf8(what, text));
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return tl::make_unexpected(InvalidArgument(std::string(what) + " holds a NUL character (offset " +
                                               std::to_string(nul) + "), which the store cannot keep"));
  }
  return Ok();
}

namespace {

// A list of codes kept comma-separated: each one stored text, non-empty and
// without a comma, or it would not read back as the same list.
Status CheckCodes(std::string_view what, const std::vector<std::string>& codes) {
  for (size_t i = 0; i < codes.size(); ++i) {
    const std::string& code = codes[i];
    if (IsStoredText(code) && !code.empty() && code.find(',') == std::string::npos) continue;
    std::string entry = std::string(what) + " entry " + std::to_string(i + 1);
    FB_RETURN_IF_ERROR(CheckStoredText(entry, code));
    return tl::make_unexpected(InvalidArgument(entry + " is empty or holds a comma; each must be one code"));
  }
  return Ok();
}

}  // namespace

Status CheckWritable(const Organisation& org) {
  FB_RETURN_IF_ERROR(CheckStoredText("organisation `id`", org.id));
  FB_RETURN_IF_ERROR(CheckStoredText("organisation `type`", org.type));
  return CheckStoredText("organisation `name`", org.name);
}

Status CheckWritable(const Subject& subject) {
  FB_RETURN_IF_ERROR(CheckStoredText("subject `reference`", subject.reference));
  FB_RETURN_IF_ERROR(CheckStoredText("subject `given_name`", subject.given_name));
  FB_RETURN_IF_ERROR(CheckStoredText("subject `family_name`", subject.family_name));
  FB_RETURN_IF_ERROR(CheckStoredText("subject `date_of_birth`", subject.date_of_birth));
  FB_RETURN_IF_ERROR(CheckStoredText("subject `concern`", subject.concern));
  FB_RETURN_IF_ERROR(CheckCodes("subject `flags`", subject.flags));
  FB_RETURN_IF_ERROR(CheckCodes("subject `service_roles`", subject.service_roles));
  if (subject.application) return CheckApplicationChoice(*subject.application);
  return Ok();
}

Status CheckWritable(const Case& c) {
  FB_RETURN_IF_ERROR(CheckStoredText("case `id`", c.id));
  FB_RETURN_IF_ERROR(CheckStoredText("case `type`", c.type));
  FB_RETURN_IF_ERROR(CheckStoredText("case `status`", c.status));
  return CheckCodes("case `flags`", c.flags);
}

Status CheckWritable(const Record& record) {
  FB_RETURN_IF_ERROR(CheckStoredText("record `kind`", record.kind));
  FB_RETURN_IF_ERROR(CheckStoredText("record `collected_as`", record.collected_as));
  FB_RETURN_IF_ERROR(CheckStoredText("record `case_id`", record.case_id));
  for (size_t i = 0; i < record.fields.size(); ++i) {
    const Field& f = record.fields[i];
    // A name that is not stored text cannot be shown: the field is named by
    // its place instead.
    if (!IsStoredText(f.name)) return CheckStoredText("the name of record field " + std::to_string(i + 1), f.name);
    if (!IsStoredText(f.value)) return CheckStoredText("record field `" + f.name + "`", f.value);
  }
  return Ok();
}

Status CheckWritable(const Receipt& receipt) {
  FB_RETURN_IF_ERROR(CheckStoredText("receipt `id`", receipt.id));
  return CheckStoredText("receipt `org_id`", receipt.org_id);
}

Status CheckWritable(const Report& report) {
  FB_RETURN_IF_ERROR(CheckStoredText("report `id`", report.id));
  FB_RETURN_IF_ERROR(CheckStoredText("report `case_id`", report.case_id));
  return CheckStoredText("report `org_id`", report.org_id);
}

Status CheckWritable(const TrackerToken& token) {
  FB_RETURN_IF_ERROR(CheckStoredText("tracker token `digest`", token.digest));
  FB_RETURN_IF_ERROR(CheckStoredText("tracker token `kind`", token.kind));
  return CheckStoredText("tracker token `org_id`", token.org_id);
}

Status CheckWritable(const Hold& hold) { return CheckStoredText("hold `reason`", hold.reason); }

Status CheckApplicationChoice(const ApplicationChoice& choice) {
  FB_RETURN_IF_ERROR(CheckStoredText("application choice `recipient`", choice.recipient));
  FB_RETURN_IF_ERROR(CheckStoredText("application choice `recorded_by`", choice.recorded_by));
  FB_RETURN_IF_ERROR(CheckStoredText("application choice `recorded_on`", choice.recorded_on));
  for (size_t i = 0; i < choice.categories.size(); ++i) {
    if (IsStoredText(choice.categories[i])) continue;
    return CheckStoredText("application choice `categories` entry " + std::to_string(i + 1), choice.categories[i]);
  }
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
