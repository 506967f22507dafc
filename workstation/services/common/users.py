"""Users and roles."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import User


def ensure_user(session: Session, login: str, *, role: str = "admin") -> User:
    """The user row for `login`, created on first use (the first user of a store is its admin)."""
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        first = session.scalar(select(User.id).limit(1)) is None
        user = User(login=login, display_name=login, role=role if first else "clerk")
        session.add(user)
        session.flush()
    return user


def list_users(session: Session) -> list[User]:
    """Active users, by display name."""
    return list(
        session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name))
    )
