"""Ledger: wallets, holds, pricing, commission, statements and payouts in integer micro-dollars."""
