#!/usr/bin/env python3
"""An independent check of a cosigned checkpoint, written from the C2SP
texts alone (signed-note, tlog-cosignature cosignature/v1), for
witness_interop_test: Ed25519 through python3-cryptography.

usage: verify_cosignature.py NOTE_FILE WITNESS_VKEY
Exit 0 if the note carries a valid cosignature/v1 from the key, 1 if not,
77 if python3-cryptography is missing."""
import base64
import hashlib
import struct
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.exceptions import InvalidSignature
except ImportError:
    sys.exit(77)


def main():
    note = open(sys.argv[1], "rb").read().decode("utf-8")
    name, key_id_hex, key_b64 = sys.argv[2].strip().split("+", 2)
    key = base64.b64decode(key_b64)
    # Verifier key: type byte 0x04 then the 32-byte Ed25519 public key.
    if len(key) != 33 or key[0] != 0x04:
        print("not a cosignature/v1 key")
        return 1
    pub = key[1:]
    # Key ID = SHA-256(name || "\n" || 0x04 || pubkey)[:4].
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + pub).digest()[:4]
    if key_id.hex() != key_id_hex:
        print("key ID mismatch")
        return 1
    # The text ends at the last blank line; signature lines follow.
    split = note.rindex("\n\n")
    text, sigs = note[: split + 1], note[split + 2 :]
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            print("bad signature line:", line)
            return 1
        sig_name, sig_b64 = line[2:].split(" ")
        raw = base64.b64decode(sig_b64)
        if sig_name != name or raw[:4] != key_id:
            continue
        if len(raw) != 4 + 8 + 64:
            print("bad cosignature length")
            return 1
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        message = ("cosignature/v1\ntime %d\n" % timestamp + text).encode()
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[12:], message)
        except InvalidSignature:
            print("cosignature does not verify")
            return 1
        if timestamp == 0:
            print("zero timestamp")
            return 1
        print("ok: cosigned at", timestamp)
        return 0
    print("no cosignature from", name)
    return 1


sys.exit(main())
