"""Properties of the feedback store, on SQLite and PostgreSQL: whatever validated feedback holds,
``record_feedback`` either stores every item exactly as sent (then the service answers 200) or
refuses the whole request as a permanent error naming a field (400), storing nothing. It never
fails any other way, so a client is never told "try again" for content that can never be stored."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cds_hooks.store import InvalidValue, Store, utc_naive

# any Unicode scalar value (surrogates are refused earlier, by the JSON decoder)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# the whole calendar: near its ends an instant may leave it once converted to UTC (then refused)
moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59),
                       timezones=st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-1439, 1439)))


@st.composite
def feedback_items(draw):
    outcome = draw(st.sampled_from(["accepted", "overridden"]))
    item = {"card": draw(text.filter(bool)), "outcome": outcome, "outcomeTimestamp": draw(moments)}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": s} for s in draw(st.lists(text.filter(bool), min_size=1, max_size=3))]
    elif draw(st.booleans()):
        reason = {"code": draw(text.filter(bool)), "system": draw(text), "display": draw(text)}
        item["overrideReason"] = {"reason": reason, "userComment": draw(text)}
    return item


def test_feedback_is_stored_as_sent_or_refused_whole(store_url):
    store = Store(store_url)
    store.ensure_ready()

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.lists(feedback_items(), min_size=1, max_size=4))
    @example([{"card": "c\x00", "outcome": "overridden", "outcomeTimestamp": datetime(2026, 1, 1, tzinfo=timezone.utc)}])
    @example([{"card": "c", "outcome": "overridden",
               "outcomeTimestamp": datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))}])
    @example([{"card": "c", "outcome": "overridden", "overrideReason": {"userComment": "\u2028\x1b\x00"},
               "outcomeTimestamp": datetime(2026, 1, 1, tzinfo=timezone.utc)}])
    def check(items):
        service = f"svc-{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc)
        try:
            linked = store.record_feedback(service, items, "iss", now)
        except InvalidValue as refused:
            assert refused.expression and refused.expression.startswith("feedback[")
            assert store.feedback_rows(service) == []
            return
        rows = store.feedback_rows(service)
        assert linked == [False] * len(items) and len(rows) == len(items)
        for row, item in zip(rows, items):
            assert row["card_uuid"] == item["card"] and row["outcome"] == item["outcome"]
            assert row["outcome_timestamp"] == utc_naive(item["outcomeTimestamp"])
            assert row["accepted_suggestions"] == [s["id"] for s in item.get("acceptedSuggestions", [])]
            override = item.get("overrideReason", {})
            assert row["user_comment"] == override.get("userComment")
            assert row["override_code"] == override.get("reason", {}).get("code")
            assert row["override_display"] == override.get("reason", {}).get("display")

    check()
    store.close(1)
