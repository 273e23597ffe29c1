// Front door of `oversight`: what an oversight body (an inspectorate, the
// police conduct office, a designated campaign group) runs to check a
// holder's decision log without trusting the holder.
//
//   witness/  co-signs the checkpoints of the logs it watches (C2SP
//             tlog-witness), never two inconsistent ones, keeping evidence
//             of misbehaviour (`oversight/witness/witness.h`).
//
// Error model: findings and evidence are values; `Error`s are for
// infrastructure (I/O, the database).
// Thread model: stated per class in each header.
//
//   FB_ASSIGN_OR_RETURN(auto config, oversight::witness::LoadWitnessConfig(path));
//   FB_ASSIGN_OR_RETURN(auto server, oversight::witness::Server::Start(config));
#pragma once

#include "oversight/witness/witness.h"
