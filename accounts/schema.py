"""The token schemes, as drf-spectacular documents them: one key, sent either way."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.HashedTokenAuthentication"
    name = ["tokenAuth", "bearerAuth"]

    def get_security_requirement(self, auto_schema):
        # Either scheme alone (OpenAPI's OR): generated clients send Bearer by default.
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        where = "create a key with `manage.py create_api_token`"
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": f"`Token <key>`; {where}. The same key works as a Bearer token.",
            },
            {
                "type": "http",
                "scheme": "bearer",
                "description": f"`Bearer <key>`, the same key as `Token <key>`; {where}.",
            },
        ]
