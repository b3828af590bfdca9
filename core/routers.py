from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes match with or without a trailing slash, and never redirect."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
