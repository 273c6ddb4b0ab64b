"""Payment providers: where money enters wallets and where payouts leave (a plug point).

The ledger is the source of truth; a provider only moves real money. The interface is small so
a card processor (Stripe Checkout for top-ups, Connect transfers for payouts) can plug in:

- :meth:`PaymentProvider.confirm_deposit` is called before a deposit is posted. It must check
  that the money really arrived (a card processor looks up the payment by reference and compares
  the amount) and return the reference to store. The deposit is idempotent on that reference:
  the same reference posts once.
- :meth:`PaymentProvider.send_payout` is called before a payout is posted, with an idempotency
  key that is the same for every retry of one publisher's month, so a retry after a crash can
  never pay twice (Stripe's idempotency-key contract).

:class:`ManualPaymentProvider`, the default, is for money an admin moved by hand (a bank
transfer, cash, a promotional credit): it trusts the admin and settles payouts off-platform.
"""

from __future__ import annotations

import secrets
from typing import Protocol


class PaymentProvider(Protocol):
    """Confirms incoming money and sends payouts."""

    name: str

    def confirm_deposit(self, operator_id: str, amount_micros: int, reference: str | None) -> str:
        """Check that ``amount_micros`` arrived for ``operator_id``; return the reference to
        store (raise :class:`~skillmarket.ledger.errors.PaymentProviderError` if it did not)."""
        ...

    def send_payout(self, publisher_id: str, amount_micros: int, *, idempotency_key: str) -> str:
        """Send ``amount_micros`` to the publisher; return the provider's reference. The same
        ``idempotency_key`` must never pay twice."""
        ...


class ManualPaymentProvider:
    """Money moved by an admin outside the marketplace; the admin's word is the confirmation."""

    name = "manual"

    def confirm_deposit(self, operator_id: str, amount_micros: int, reference: str | None) -> str:
        """The admin's reference, or a fresh one (then the deposit is not deduplicated)."""
        return reference or f"manual_{secrets.token_hex(8)}"

    def send_payout(self, publisher_id: str, amount_micros: int, *, idempotency_key: str) -> str:
        """Nothing is sent here: the admin pays out by hand; the reference names the payout."""
        return f"manual:{idempotency_key}"


PROVIDERS: dict[str, type[ManualPaymentProvider]] = {"manual": ManualPaymentProvider}


def provider_named(name: str) -> PaymentProvider:
    """The provider configured by ``SKILLMARKET_PAYMENT_PROVIDER``."""
    return PROVIDERS[name]()
