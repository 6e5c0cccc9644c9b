"""Bearer tokens: created and revoked from the CLI (psycopg), verified on every /api/v1 request (asyncpg).

Only the sha256 of a token is stored; the token itself is shown once, when it is created.
Grid monitors can read everything for now. SPEC 6 limits them to their own points; that filter
will go in the point, alert and patrol queries, keyed on `ApiToken.person_id` (which
`create_token` requires for grid monitors).
"""

from service.auth.schemas import ROLES, ApiToken, Role, TokenInfo
from service.auth.service import create_token, list_tokens, revoke_token

__all__ = ["ROLES", "ApiToken", "Role", "TokenInfo", "create_token", "list_tokens", "revoke_token"]
