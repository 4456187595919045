"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from models.app import ClientApp
from models.auth_session import AuthSession, RefreshToken
from models.code import VerificationCode
from models.limits import Cooldown, PhoneLock, RateCounter
from models.server_secret import ServerSecret
from models.user import Card, Phone, User

__all__ = [
    "AuthSession",
    "Card",
    "ClientApp",
    "Cooldown",
    "Phone",
    "PhoneLock",
    "RateCounter",
    "RefreshToken",
    "ServerSecret",
    "User",
    "VerificationCode",
]
