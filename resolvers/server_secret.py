"""The development secret key: generated once, stored, shared by every process."""

from __future__ import annotations

from sqlmodel import select

from core.db import DbSession, insert_for
from core.security import new_secret_key
from models import ServerSecret

SECRET_KEY_NAME = "secret_key"


async def load_or_create_secret_key(session: DbSession) -> str:
    """Insert-if-absent, then read: workers starting together agree on one key."""
    insert = insert_for(session)
    await session.exec(
        insert(ServerSecret)
        .values(name=SECRET_KEY_NAME, value=new_secret_key())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    value = (await session.exec(select(ServerSecret.value).where(ServerSecret.name == SECRET_KEY_NAME))).one()
    await session.commit()
    return value
