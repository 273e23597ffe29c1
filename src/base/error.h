// Error and Result: the one error vocabulary of Firebreak.
//
// An `Error` is for infrastructure only: I/O, a database, a corrupt tile, an
// SMT solver answering `unknown`. A policy author's mistake is a diagnostic
// (data) and a decision is a value; neither is ever an `Error`.
//
// Thread model: plain values, thread-compatible.
//
//   Result<int> ParsePort(std::string_view s);
//   FB_ASSIGN_OR_RETURN(int port, ParsePort(text));
//   FB_RETURN_IF_ERROR(WriteFile(path, bytes));
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace firebreak {

// What went wrong, coarsely, so callers can branch without parsing messages.
enum class ErrorCode {
  kInvalidArgument,     // bad input from outside: a request, a file, a flag
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // creating something that is there already
  kFailedPrecondition,  // the system is not in a state to do this
  kDataLoss,            // stored data is corrupt or inconsistent
  kIo,                  // the operating system refused (open, write, fsync)
  kUnavailable,         // a dependency cannot answer now (solver unknown, busy)
  kInternal,            // a bug: an invariant of ours did not hold
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid-argument: request line 3: field `purpose`: ..."
  std::string ToString() const;

  // Returns a copy with `context` put in front of the message ("opening x: ...").
  Error WithContext(std::string_view context) const;

 private:
  ErrorCode code_;
  std::string message_;
};

inline Error InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Error AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
inline Error FailedPrecondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
inline Error DataLoss(std::string m) { return {ErrorCode::kDataLoss, std::move(m)}; }
inline Error IoError(std::string m) { return {ErrorCode::kIo, std::move(m)}; }
inline Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

// The one result type. The alias makes the later switch to std::expected one line.
template <class T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

inline Status Ok() { return {}; }

}  // namespace firebreak

#define FB_CONCAT_INNER_(a, b) a##b
#define FB_CONCAT_(a, b) FB_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result or Status) from the enclosing function.
#define FB_RETURN_IF_ERROR(expr)                                  \
  do {                                                            \
    auto&& fb_result_ = (expr);                                   \
    if (!fb_result_) return ::tl::make_unexpected(fb_result_.error()); \
  } while (false)

// Declares `lhs` from the value of `rexpr`, or returns its error.
#define FB_ASSIGN_OR_RETURN(lhs, rexpr) \
  FB_ASSIGN_OR_RETURN_IMPL_(FB_CONCAT_(fb_result_, __LINE__), lhs, rexpr)
#define FB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr)               \
  auto tmp = (rexpr);                                            \
  if (!tmp) return ::tl::make_unexpected(std::move(tmp).error()); \
  lhs = std::move(tmp).value()
