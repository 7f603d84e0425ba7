"""What only the PostgreSQL store promises: lazy connection and a clear error."""

from __future__ import annotations

import pytest

from service.outbox import StoreError, open_store
from service.outbox.postgres import PostgresStore


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_both_schemes_select_postgres_without_connecting(scheme: str) -> None:
    store = open_store(f"{scheme}://nobody:secret@127.0.0.1:1/none")
    assert isinstance(store, PostgresStore)


async def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    store = open_store("postgresql://nobody:s3cret-pw@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as caught:
        await store.open()
    assert "s3cret-pw" not in str(caught.value)
