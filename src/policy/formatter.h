// The formatter: prints a `Module` in canonical layout (`firebreak fmt`), and
// prints items in the comment-free, order-free canonical form from which the
// policy hash and firewall pin hashes are computed.
//
// Formatting is idempotent: Format(Parse(Format(m))) == Format(m).
// Thread model: pure functions, thread-safe.
#pragma once

#include <string>

#include "policy/ast.h"

namespace firebreak::policy {

// The whole file, with comments, in canonical layout.
std::string FormatModule(const Module& module);

// One item without comments, with value lists sorted (except enum
// declarations, whose order is the author's) and every clause on one line.
std::string CanonicalItem(const Module& module, const Item& item);

// A condition on one line, as the formatter prints it.
std::string FormatExpr(const Module& module, ExprId id);

}  // namespace firebreak::policy
