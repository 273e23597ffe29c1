// Front door of `oversight`: what an oversight body (an inspectorate, the
// police conduct office, a designated campaign group) runs to check a
// holder's decision log without trusting the holder.
//
//   witness/  co-signs the checkpoints of the logs it watches (C2SP
//             tlog-witness), never two inconsistent ones, keeping evidence
//             of misbehaviour (`oversight/witness/witness.h`).
//   monitor/  `firebreak monitor`: follows a holder's public log, re-derives
//             every hash into a verified mirror, and writes evidence of a
//             rollback, fork, rewrite or split view (monitor/monitor.h).
//   audit/    `firebreak audit`: re-verifies a copy of the log, opens every
//             sealed part, replays every decision against its published
//             pack and checks it against the guarantees (audit/audit.h).
//
// Error model: findings and evidence are values; `Error`s are for
// infrastructure (I/O, the database, an unreachable log).
// Thread model: stated per class in each header.
//
//   FB_ASSIGN_OR_RETURN(auto config, oversight::witness::LoadWitnessConfig(path));
//   FB_ASSIGN_OR_RETURN(oversight::AuditReport r, oversight::RunAudit(options));
#pragma once

#include "oversight/audit/audit.h"
#include "oversight/fleet/fleet.h"
#include "oversight/monitor/monitor.h"
#include "oversight/witness/witness.h"
