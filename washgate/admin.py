"""Admin commands (`washgate apps|users|service-tokens|carwashes ...` and `demo`)."""

from __future__ import annotations

import argparse
import hashlib
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.clock import utcnow
from core.db import Database
from core.i18n import translate
from core.phones import PhoneError, normalize_phone
from core.services import Services
from models import Carwash
from resolvers import apps, carwash, oauth_tokens, retention, service_tokens, users
from resolvers.apps import AppCredentials
from resolvers.errors import DomainError

DEMO_PHONE = "+79990000000"
DEMO_CARWASH_ID = 12345


class AdminError(Exception):
    """An admin command that cannot be carried out; the message says why."""


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


async def apps_create(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    async with db.session() as session:
        creds = await apps.create_app(session, services=services, name=args.name)
    return {"app_id": creds.app_id, "app_secret": creds.app_secret, "app_token": creds.app_token}


async def apps_block(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    async with db.session() as session:
        if not await apps.block_app(session, app_id=args.app_id):
            raise AdminError(f"no unblocked app {args.app_id}")
    return {"app_id": args.app_id, "blocked": True}


async def users_create(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    if (args.email is None) != (args.password is None):
        raise AdminError("--email and --password go together")
    email = None
    if args.email is not None:
        try:  # the rules and the spelling of the API that will log it in (seed 003)
            email = oauth_tokens.valid_email(args.email)
            oauth_tokens.valid_new_password(args.password, "password")
        except DomainError as exc:
            raise AdminError(f"--{exc.field}: {translate(exc.message, 'en', **exc.params)}") from None
    phone = None
    if args.phone is not None:
        try:
            phone = normalize_phone(args.phone, allowed=None)
        except PhoneError:
            raise AdminError(f"not a phone number: {args.phone}") from None
    async with db.session() as session:
        try:
            user = await users.create_user(session, phone=phone, email=email, password=args.password, name=args.name)
            if args.driver:
                await users.add_driver_profile(session, user=user)
            await session.commit()
        except DomainError as exc:
            raise AdminError(exc.message) from None
    return {"id": str(user.id)}


async def users_delete(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    user_id = carwash.parse_id(args.id, "id")
    if user_id is None:
        raise AdminError(f"no user {args.id}")
    async with db.session() as session:
        try:
            deleted = await users.delete_user(session, user_id=user_id)
        except DomainError as exc:
            raise AdminError(f"user {args.id} not deleted: {exc.message}") from None
        if not deleted:
            raise AdminError(f"no user {args.id}")
    return {"id": str(user_id), "deleted": True}


async def service_tokens_create(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    async with db.session() as session:
        try:
            row, token = await service_tokens.create_service_token(session=session, services=services, name=args.name)
        except DomainError as exc:
            raise AdminError(f"invalid --name: {exc.message}") from None
    return {"id": str(row.id), "token": token}


async def service_tokens_revoke(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    token_id = carwash.parse_id(args.id, "id")
    async with db.session() as session:
        if token_id is None or not await service_tokens.revoke_service_token(session=session, token_id=token_id):
            raise AdminError(f"no unrevoked service token {args.id}")
    return {"id": str(token_id), "revoked": True}


async def carwashes_add(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    async with db.session() as session:
        try:
            row = await carwash.add_carwash(
                session=session, carwash_id=args.id, name=args.name, address=args.address, price=args.price
            )
        except DomainError as exc:
            raise AdminError(f"cannot add carwash {args.id}: {translate(exc.message, 'en', **exc.params)}") from None
    return {"id": str(row.id)}


def demo_secret(services: Services, label: str, size: int = 16) -> bytes:
    return hashlib.sha256(services.keys.demo + label.encode()).digest()[:size]


async def demo(db: Database, services: Services, args: argparse.Namespace | None = None) -> dict[str, Any]:
    """Seed (idempotently) a demo app, service token, carwash and user; secrets derive from the key.

    Runs started together may create the same row in between a check and an insert:
    the loser's insert fails on the table's uniqueness and it looks again.
    """
    for _ in range(2):
        try:
            return await _seed_demo(db, services)
        except (DomainError, IntegrityError):
            continue
    return await _seed_demo(db, services)


async def _seed_demo(db: Database, services: Services) -> dict[str, Any]:
    creds = AppCredentials(
        app_id=demo_secret(services, "app_id", 12).hex(),
        app_secret=demo_secret(services, "app_secret", 24).hex(),
        app_token=str(uuid.UUID(bytes=demo_secret(services, "app_token"), version=4)),
    )
    async with db.session() as session:
        if await apps.app_by_id(session, app_id=creds.app_id) is None:
            await apps.create_app(session, services=services, name="Demo app", credentials=creds)
        service_token, token = await service_tokens.create_service_token(
            session=session,
            services=services,
            name="Demo service (payments, carwash network)",
            token=service_tokens.TOKEN_PREFIX + demo_secret(services, "service_token", 24).hex(),
        )
        service_token_id = str(service_token.id)  # read now: a rollback below expires the row
        if await session.get(Carwash, DEMO_CARWASH_ID) is None:
            try:
                await carwash.add_carwash(
                    session=session, carwash_id=DEMO_CARWASH_ID, name="Demo carwash", address="Moscow", price=500
                )
            except DomainError:
                pass  # added meanwhile by another run
        user = await users.user_by_phone(session, phone=DEMO_PHONE)
        if user is None:
            user = await users.create_user(session, phone=DEMO_PHONE, name="Demo user")
            await session.commit()
        user_id = str(user.id)
    return {
        "app": {"app_id": creds.app_id, "app_secret": creds.app_secret, "app_token": creds.app_token},
        "service_token": {"id": service_token_id, "token": token},
        "carwash": {"id": str(DEMO_CARWASH_ID)},
        "user": {"id": user_id, "phone": DEMO_PHONE},
    }


async def purge(db: Database, services: Services, args: argparse.Namespace) -> dict[str, Any]:
    return {"deleted": await retention.purge_expired(db=db, now=utcnow())}


def _add_carwash_commands(sub: Any) -> None:
    tokens_cmd = sub.add_parser("service-tokens", help="server-to-server tokens").add_subparsers(
        dest="service_tokens_command", required=True
    )
    tcreate = tokens_cmd.add_parser("create", help="create a token (shown once)")
    tcreate.add_argument("--name", required=True)
    _json_flag(tcreate)
    tcreate.set_defaults(action=service_tokens_create)
    trevoke = tokens_cmd.add_parser("revoke", help="revoke a token at once")
    trevoke.add_argument("id")
    _json_flag(trevoke)
    trevoke.set_defaults(action=service_tokens_revoke)

    carwashes_cmd = sub.add_parser("carwashes", help="the carwash catalogue").add_subparsers(
        dest="carwashes_command", required=True
    )
    cadd = carwashes_cmd.add_parser("add", help="add a carwash with the network's id")
    cadd.add_argument("--id", type=int, required=True)
    cadd.add_argument("--name", required=True)
    cadd.add_argument("--address")
    cadd.add_argument("--price", type=int, default=0, help="price of a wash in whole roubles")
    _json_flag(cadd)
    cadd.set_defaults(action=carwashes_add)


def add_commands(sub: Any) -> None:
    demo_cmd = sub.add_parser("demo", help="seed demo data and print it")
    _json_flag(demo_cmd)
    demo_cmd.set_defaults(action=demo)
    purge_cmd = sub.add_parser("purge", help="delete counters, cooldowns, codes and refresh tokens past their time")
    _json_flag(purge_cmd)
    purge_cmd.set_defaults(action=purge)
    _add_carwash_commands(sub)

    apps_cmd = sub.add_parser("apps", help="client apps").add_subparsers(dest="apps_command", required=True)
    create = apps_cmd.add_parser("create")
    create.add_argument("--name", required=True)
    _json_flag(create)
    create.set_defaults(action=apps_create)
    block = apps_cmd.add_parser("block")
    block.add_argument("app_id")
    _json_flag(block)
    block.set_defaults(action=apps_block)

    users_cmd = sub.add_parser("users", help="accounts").add_subparsers(dest="users_command", required=True)
    ucreate = users_cmd.add_parser("create")
    ucreate.add_argument("--email")
    ucreate.add_argument("--password")
    ucreate.add_argument("--phone")
    ucreate.add_argument("--name")
    ucreate.add_argument("--driver", action="store_true")
    _json_flag(ucreate)
    ucreate.set_defaults(action=users_create)
    udelete = users_cmd.add_parser("delete")
    udelete.add_argument("id")
    _json_flag(udelete)
    udelete.set_defaults(action=users_delete)
