"""Personal identifiers at rest: authenticated encryption, and a keyed hash for lookups.

Both keys are derived from one master key (HUB_DATA_KEY, base64 of 32 bytes), which lives in
configuration and never in the database. Ciphertexts carry a version prefix for key rotation.
"""
import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"v1"


def new_master_key():
    return base64.b64encode(os.urandom(32)).decode()


def derived_key(master_key_b64, info):
    """A 32-byte key of its own for one use (`info`), derived from the master key."""
    try:
        master = base64.b64decode(master_key_b64 or "", validate=True)
    except ValueError:
        master = b""
    if len(master) != 32:
        raise ValueError("HUB_DATA_KEY must be base64 of 32 random bytes "
                         "(make run generates one in var/hub.env)")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class PersonalDataCipher:
    def __init__(self, master_key_b64):
        self._aead = AESGCM(derived_key(master_key_b64, b"shegong-hub encryption"))
        self._mac_key = derived_key(master_key_b64, b"shegong-hub lookup")

    def encrypt(self, plaintext, context=b""):
        nonce = os.urandom(12)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob, context=b""):
        blob = bytes(blob)
        if not blob.startswith(VERSION):
            raise ValueError("unknown ciphertext version")
        nonce, body = blob[2:14], blob[14:]
        return self._aead.decrypt(nonce, body, context).decode()

    def lookup_hash(self, value):
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()


def mask(value, head=3, tail=4):
    """'341721199001011234' -> '341***********1234'."""
    if not value:
        return value
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]
