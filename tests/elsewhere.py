"""Work run in a thread of its own, so on a database connection of its own: what the
concurrency tests do beside a transaction they hold open."""

import threading


class Elsewhere(threading.Thread):
    """Runs `work()` at once; afterwards `result` is what it returned, `error` what it
    raised (reported by the test rather than lost in the thread)."""

    def __init__(self, work):
        super().__init__()
        self.work, self.result, self.error = work, None, None
        self.start()

    def run(self) -> None:
        from django.db import connection

        try:
            self.result = self.work()
        except Exception as error:
            self.error = error
        finally:
            connection.close()

    def finished_within(self, seconds: float) -> bool:
        self.join(seconds)
        return not self.is_alive()
