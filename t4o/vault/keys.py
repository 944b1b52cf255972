"""Repository keys: the chunk-id key, the master key, and the password wrapping of both.

Without a password the keys sit in the ``config`` object in clear (the repository is then only as
private as its storage). With a password, a key-encryption key is derived with scrypt and the keys are
stored AES-256-GCM-wrapped; a wrong password fails the GCM tag and is reported as such.

Encrypted workloads of a password-protected repository derive their keys from the master key with
HKDF-SHA256 (info names the workload), so they need no storage.

A workload may instead have a key of its own (``WorkloadKey``): random, not derivable from anything in
the repository, stored as ``keys/<workload_id>`` wrapped by a key-encryption key taken from a secret
held outside the target (a Barbican secret's payload). Rotating to a new secret re-wraps that object
only; the data it protects is not rewritten.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from t4o.vault.errors import CorruptRepository, InvalidArgument, WrongPassword, WrongWorkloadSecret

KEY_LEN = 32
WRAP_AAD = b"t4o-vault config keys v1"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class RepoKeys:
    id_key: bytes  # keys BLAKE3 chunk ids of unencrypted workloads
    master_key: bytes  # root of per-workload keys

    @classmethod
    def generate(cls) -> RepoKeys:
        return cls(os.urandom(KEY_LEN), os.urandom(KEY_LEN))

    def to_json(self) -> dict[str, str]:
        return {"id_key": self.id_key.hex(), "master_key": self.master_key.hex()}

    @classmethod
    def from_json(cls, doc: dict[str, str]) -> RepoKeys:
        try:
            keys = cls(bytes.fromhex(doc["id_key"]), bytes.fromhex(doc["master_key"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptRepository(f"repository keys are malformed ({exc})") from None
        if len(keys.id_key) != KEY_LEN or len(keys.master_key) != KEY_LEN:
            raise CorruptRepository("repository keys have the wrong length")
        return keys

    def metadata_key(self) -> bytes:
        """AES-256-GCM key of the JSON documents of a password-protected repository."""
        return _hkdf(self.master_key, b"t4o-vault metadata key")

    def workload_keys(self, workload_id: str) -> tuple[bytes, bytes]:
        """(chunk-id key, AES-256-GCM key) of an encrypted workload."""
        return (
            _hkdf(self.master_key, b"t4o-vault workload id-key " + workload_id.encode()),
            _hkdf(self.master_key, b"t4o-vault workload enc-key " + workload_id.encode()),
        )


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=None, info=info).derive(key)


def _kek(password: str, kdf: dict[str, object]) -> bytes:
    salt = b64d(str(kdf["salt"]))
    return Scrypt(salt=salt, length=KEY_LEN, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])).derive(  # type: ignore[call-overload]
        password.encode("utf-8")
    )


def wrap_keys(keys: RepoKeys, password: str) -> dict[str, object]:
    """The ``kdf`` and ``wrapped_keys`` members of a password-protected config."""
    kdf: dict[str, object] = {"name": "scrypt", "salt": b64e(os.urandom(16)), "n": SCRYPT_N, "r": SCRYPT_R}
    kdf["p"] = SCRYPT_P
    nonce = os.urandom(12)
    plain = json.dumps(keys.to_json()).encode()
    sealed = AESGCM(_kek(password, kdf)).encrypt(nonce, plain, WRAP_AAD)
    return {"kdf": kdf, "wrapped_keys": b64e(nonce + sealed)}


def unwrap_keys(config: dict[str, object], password: str) -> RepoKeys:
    kdf = config.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise CorruptRepository("repository config names no supported key derivation")
    try:
        blob = b64d(str(config["wrapped_keys"]))
        kek = _kek(password, kdf)
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptRepository(f"repository config has malformed key fields ({exc})") from None
    try:
        plain = AESGCM(kek).decrypt(blob[:12], blob[12:], WRAP_AAD)
    except InvalidTag:
        raise WrongPassword("wrong repository password (the keys could not be unlocked)") from None
    return RepoKeys.from_json(json.loads(plain))


SEALED = "aes-256-gcm"


def seal(key: bytes, where: str, doc: object) -> dict[str, str]:
    """A JSON document encrypted and bound to its object key (``where``) as associated data."""
    nonce = os.urandom(12)
    data = AESGCM(key).encrypt(nonce, json.dumps(doc).encode(), where.encode())
    return {"sealed": SEALED, "data": b64e(nonce + data)}


def is_sealed(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("sealed") == SEALED and set(doc) == {"sealed", "data"}


def unseal(key: bytes, where: str, doc: dict[str, str]) -> object:
    try:
        blob = b64d(doc["data"])
        return json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], where.encode()))
    except (InvalidTag, ValueError, KeyError) as exc:
        raise CorruptRepository(f"{where}: sealed document does not decrypt ({type(exc).__name__})") from None


# -- workload keys -------------------------------------------------------------------------------

WORKLOAD_KEY_FORMAT = "t4o-vault-workload-key"
WORKLOAD_KEY_PREFIX = "keys/"
MIN_SECRET_LEN = 16  # a secret's payload is key material: shorter ones are refused


def workload_key_key(workload_id: str) -> str:
    """The object holding a workload's wrapped key."""
    return f"{WORKLOAD_KEY_PREFIX}{workload_id}"


@dataclass(frozen=True)
class WorkloadKey:
    """A workload's own key; its chunk-id, chunk and document keys are derived from it."""

    key: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> WorkloadKey:
        return cls(os.urandom(KEY_LEN))

    @property
    def id_key(self) -> bytes:
        return _hkdf(self.key, b"t4o-vault workload id-key")

    @property
    def enc_key(self) -> bytes:
        return _hkdf(self.key, b"t4o-vault workload enc-key")

    @property
    def doc_key(self) -> bytes:
        return _hkdf(self.key, b"t4o-vault workload document key")


def _workload_kek(secret: bytes, salt: bytes) -> bytes:
    if len(secret) < MIN_SECRET_LEN:
        raise InvalidArgument(
            f"the secret's payload has {len(secret)} bytes: a workload key needs a secret of at least "
            f"{MIN_SECRET_LEN} bytes (e.g. a 256-bit symmetric key)"
        )
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=salt, info=b"t4o-vault workload kek").derive(
        secret
    )


def _workload_aad(workload_id: str) -> bytes:
    return b"t4o-vault workload key v1 " + workload_id.encode()


def wrap_workload_key(
    workload_id: str, key: WorkloadKey, secret_ref: str, secret: bytes, created: str, rewrapped: str | None
) -> dict[str, object]:
    """The ``keys/<workload_id>`` document: ``key`` wrapped by the secret's payload."""
    salt = os.urandom(16)
    nonce = os.urandom(12)
    sealed = AESGCM(_workload_kek(secret, salt)).encrypt(nonce, key.key, _workload_aad(workload_id))
    return {
        "format": WORKLOAD_KEY_FORMAT,
        "version": 1,
        "workload_id": workload_id,
        "secret_ref": secret_ref,
        "kdf": {"name": "hkdf-sha256", "salt": b64e(salt)},
        "wrapped_key": b64e(nonce + sealed),
        "created": created,
        "rewrapped": rewrapped,
    }


def check_workload_key_doc(workload_id: str, doc: object) -> dict[str, object]:
    if not (
        isinstance(doc, dict)
        and doc.get("format") == WORKLOAD_KEY_FORMAT
        and doc.get("version") == 1
        and doc.get("workload_id") == workload_id
        and isinstance(doc.get("kdf"), dict)
        and doc["kdf"].get("name") == "hkdf-sha256"
    ):
        raise CorruptRepository(f"{workload_key_key(workload_id)} is not a workload key of {workload_id}")
    return doc


def unwrap_workload_key(workload_id: str, doc: dict[str, object], secret: bytes) -> WorkloadKey:
    """The key of ``doc`` (checked by ``check_workload_key_doc``); WrongWorkloadSecret when ``secret``
    does not unwrap it."""
    try:
        kdf = doc["kdf"]
        assert isinstance(kdf, dict)
        salt = b64d(str(kdf["salt"]))
        blob = b64d(str(doc["wrapped_key"]))
    except (KeyError, ValueError, AssertionError) as exc:
        raise CorruptRepository(f"{workload_key_key(workload_id)} has malformed fields ({exc})") from None
    try:
        plain = AESGCM(_workload_kek(secret, salt)).decrypt(blob[:12], blob[12:], _workload_aad(workload_id))
    except InvalidTag:
        raise WrongWorkloadSecret(
            f"the secret given for workload {workload_id} does not unlock its key, which is wrapped by "
            f"secret {doc.get('secret_ref')}: give that secret (or the one it was rotated to)",
            workload_id,
        ) from None
    if len(plain) != KEY_LEN:
        raise CorruptRepository(f"{workload_key_key(workload_id)} holds a key of the wrong length")
    return WorkloadKey(plain)
