"""Writes examples/sample_batch.json: the demo's batch, deterministic (seeded).

Usage: python examples/make_sample_batch.py [--count 200] [--out examples/sample_batch.json]

The batch mixes currencies and holds, on purpose:
- payments that validation declines (below the currency's minimum, a brand not accepted in the currency);
- payments that fraud declines (very high amounts across countries, high-risk card countries);
- duplicates: the same idempotency key with the same body (the API replays the first answer);
- one reused key with a different body (the API rejects it: idempotency_key_reused).
The poison message is a separate file (poison_message.json): a queue message no payment
consumer can parse, sent straight to the queue the way a broken producer would.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KWD", "CHF"]
BRANDS = ["visa", "mastercard"]
COUNTRIES = ["US", "GB", "DE", "FR", "JP", "KW", "CH"]


def _payment(i: int, rng: random.Random) -> dict:
    currency = CURRENCIES[i % len(CURRENCIES)]
    country = COUNTRIES[i % len(COUNTRIES)]
    scale = rng.randint(1, 9)
    if currency == "JPY":
        amount = str(400 * scale)
    elif currency == "KWD":
        amount = f"{scale}.{rng.randint(0, 999):03d}"
    else:
        amount = f"{scale * 10 + rng.randint(0, 9)}.{rng.randint(0, 99):02d}"
    last4 = f"{rng.randint(0, 9999):04d}"
    return {
        "idempotency_key": f"demo-{i:05d}",
        "merchant_id": f"m_shop{i % 7}",
        "amount": amount,
        "currency": currency,
        "payment_method": {
            "type": "card",
            "token": f"tok_demo_{i:05d}",
            "last4": last4,
            "brand": BRANDS[i % len(BRANDS)],
            "country": country,
        },
        "customer": {"id": f"c_{i:05d}", "country": country},
        "reference": f"order-{10000 + i}",
        "metadata": {"channel": "web" if i % 2 else "app"},
    }


def build(count: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    payments = [_payment(i, rng) for i in range(count)]
    # Validation declines: below the minimum charge, and brands the acquiring setup does not take.
    for i in range(3, count, 20):
        payments[i] |= {"amount": "0.10", "currency": "USD"}
    for i in range(7, count, 40):
        payments[i] |= {"currency": "EUR", "amount": "15.00"}
        payments[i]["payment_method"] |= {"brand": "discover"}
    # Fraud declines: very high, round amounts with card and customer in different countries,
    # and cards from a high-risk jurisdiction.
    for i in range(11, count, 25):
        payments[i] |= {"amount": "8000.00", "currency": "USD"}
        payments[i]["payment_method"] |= {"country": "GB"}
        payments[i]["customer"] = {"id": payments[i]["customer"]["id"], "country": "US"}
    for i in range(17, count, 50):
        payments[i]["payment_method"] |= {"country": "KP"}
    # Duplicates: a client retrying the same request (same key, same body).
    duplicates = [json.loads(json.dumps(payments[i])) for i in range(0, count, 50)]
    # A key reused for a different payment: the API must refuse it, not overwrite the first.
    reused = json.loads(json.dumps(payments[1])) | {"amount": "99.99", "currency": "USD"}
    return {"payments": [*payments, *duplicates, reused]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("sample_batch.json"))
    args = parser.parse_args()
    args.out.write_text(json.dumps(build(args.count), indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
