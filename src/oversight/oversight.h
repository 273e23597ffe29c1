// Front door of `oversight`: what an oversight body (an inspectorate, the
// police conduct office, a designated campaign group) runs against a holder's
// decision log, without trusting the holder. Findings are values, not errors:
// an unreadable input is an `Error`, a misbehaving log is a `Finding`.
//
//   audit/    `firebreak audit`: re-verify a copy of the log, open every
//             sealed part, replay every decision against its published pack,
//             check it against the guarantees (audit/audit.h).
//   monitor/  `firebreak monitor`: follow a holder's public log, re-derive
//             every hash, keep a verified mirror, and write evidence of a
//             rollback, fork, rewrite or split view (monitor/monitor.h).
#pragma once

#include "oversight/audit/audit.h"
#include "oversight/monitor/monitor.h"
