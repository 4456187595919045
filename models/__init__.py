"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from models.app import ClientApp
from models.auth_session import AuthSession, RefreshToken
from models.callup import CallupOrder
from models.carwash import Carwash, CarwashOrder
from models.code import VerificationCode
from models.driver import Driver
from models.limits import Cooldown, PhoneLock, RateCounter
from models.server_secret import ServerSecret
from models.service_token import ServiceToken
from models.user import Card, Phone, User

__all__ = [
    "AuthSession",
    "CallupOrder",
    "Card",
    "Carwash",
    "CarwashOrder",
    "ClientApp",
    "Cooldown",
    "Driver",
    "Phone",
    "PhoneLock",
    "RateCounter",
    "RefreshToken",
    "ServerSecret",
    "ServiceToken",
    "User",
    "VerificationCode",
]
