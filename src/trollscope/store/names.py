"""How users name things: a campaign as `C3`, `c3` or `3`; an account by id or handle."""

from __future__ import annotations

from trollscope.errors import UserError


def campaign_key(campaign_id: str) -> str:
    """A campaign as the user names it (`C3`, `c3`, `3`) to its id (`C3`)."""
    cid = str(campaign_id).strip().upper()
    return cid if cid.startswith("C") else f"C{cid}"


def resolve_account(store, name: str) -> str:
    """An account id from an id or a handle (any case, with or without @); UserError if unknown."""
    found = store.con.execute(
        "SELECT account_id FROM accounts WHERE account_id = ? OR lower(handle) = lower(?) "
        "ORDER BY account_id = ? DESC LIMIT 1",
        [name, name.lstrip("@"), name],
    ).fetchall()
    if not found:
        raise UserError(f"no account {name!r} in the store")
    return found[0][0]
