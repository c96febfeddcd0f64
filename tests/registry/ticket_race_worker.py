"""A process that takes tickets on command, for the race tests (run with ``python -m``).

Reads lines ``go <tracking_uri> <model> <window> <run_id>`` from stdin, answers one JSON line per command:
``{"outcome": "won" | "spent" | "error", "message", "started", "ended"}``. Prints ``ready`` once
mlflow is imported, and answers ``connected`` to ``connect <tracking_uri>``, so the parent can release all racers at once.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    from registry.errors import TicketSpentError
    from registry.ticket import take_ticket

    clients: dict[str, MlflowClient] = {}
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip() or line.strip() == "quit":
            break
        command, uri, *rest = line.split()
        if uri not in clients:
            clients[uri] = MlflowClient(tracking_uri=uri, registry_uri=uri)
            clients[uri].search_registered_models(max_results=1)  # connect before the race
        if command == "connect":
            print("connected", flush=True)
            continue
        model, window, run_id = rest
        started = time.time()
        try:
            ticket = take_ticket(model, window, run_id=run_id, client=clients[uri])
            result = {"outcome": "won", "message": ticket.name}
        except TicketSpentError as exc:
            result = {"outcome": "spent", "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
            result = {"outcome": "error", "message": f"{type(exc).__name__}: {exc}"}
        result.update(started=started, ended=time.time())
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
