"""The ticker: calls its function again and again on its own thread, survives a failing call, stops."""

import threading
import time

from engine.mix.ticker import Ticker


def test_it_ticks_on_its_own_thread_survives_errors_and_stops(caplog):
    calls = []

    def tick():
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError("one bad tick")

    ticker = Ticker("test ticker", tick, 0.005)
    ticker.start()
    deadline = time.monotonic() + 5
    while len(calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    ticker.stop()
    stopped_at = len(calls)
    time.sleep(0.05)
    assert stopped_at >= 5 and len(calls) == stopped_at
    assert set(calls) == {"test ticker"}
    assert "one bad tick" in caplog.text
