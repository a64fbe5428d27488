"""Opaque cursors for keyset pagination: every list endpoint pages the same way."""
import base64

from hub.errors import ValidationFailed


def encode_cursor(seq):
    return base64.urlsafe_b64encode(f"c{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("c"):
            raise ValueError
        return int(raw[1:])
    except ValueError:
        raise ValidationFailed("The cursor is not one this API gave out.",
                               fields={"cursor": ["invalid"]})
