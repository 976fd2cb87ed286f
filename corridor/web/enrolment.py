"""A new TOTP secret as the administrator hands it over: the ``otpauth://`` URI and a QR
code of it, drawn on the server (segno) as inline SVG, so a phone's authenticator app
can scan it from the screen. Nothing is fetched from elsewhere."""

from __future__ import annotations

import segno

from corridor.responses import Enrolment, User
from corridor.security.totp import provisioning_uri
from corridor.services.protection.administration import Enrolment as Enrolled

__all__ = ["enrolment", "qr_svg", "without_secret"]


def enrolment(enrolled: Enrolled) -> Enrolment:
    """The API's answer: the user, and the secret with its URI when one was made."""
    user = User.model_validate(enrolled.user)
    secret = enrolled.totp_secret
    uri = provisioning_uri(secret, user.username) if secret else None
    return Enrolment(
        user=user,
        totp_secret=secret,
        totp_uri=uri,
        sessions_ended=enrolled.sessions_ended,
        tokens_revoked=enrolled.tokens_revoked,
    )


def without_secret(user: dict[str, object]) -> Enrolment:
    """A replayed answer (docs/api.md, "Safe retries"): the user as they are now, and no
    secret. A secret is shown once; an administrator who lost the first answer resets
    the second factor."""
    return Enrolment(user=User.model_validate(user), totp_secret=None, totp_uri=None)


def qr_svg(uri: str) -> str:
    """An SVG QR code of ``uri`` (error correction M, dark on light, a quiet zone).

    >>> qr_svg("otpauth://totp/Corridor:amal?secret=JBSWY3DPEHPK3PXP").startswith("<svg")
    True
    """
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))
