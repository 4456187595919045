"""What resolvers need beyond a session: settings, derived keys, delivery, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.delivery import Delivery
from core.security import Keys
from core.settings import Settings


@dataclass
class Services:
    settings: Settings
    keys: Keys
    delivery: Delivery
    # Publishes domain events to subscribers (carwash order updates); set by the app.
    events: Any = field(default=None)
