// Front door of `base`: the error vocabulary, encodings and hashing every other
// component builds on. Nothing here knows about policies, logs or HTTP.
//
// Error model: `Result<T>` (error.h); only infrastructure failures are errors.
// Thread model: see each header; all free functions are thread-safe.
//
//   #include "base/base.h"
//   firebreak::Digest d = firebreak::Sha256("abc");
//   std::string hex = firebreak::HexEncode(firebreak::DigestBytes(d));
#pragma once

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
