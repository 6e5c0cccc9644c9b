"""Bearer tokens: created and revoked from the CLI (psycopg), verified on every /api/v1 request (asyncpg).

Only the sha256 of a token is stored; the token itself is shown once, when it is created.
A grid monitor sees only the points it is assigned to (SPEC 6): `scope.py` gives the person that
bounds a caller's view, and the point, alert, device and patrol queries filter on it in their SQL,
keyed on `ApiToken.person_id` (which `create_token` requires for grid monitors). Every write records
`ApiToken.actor` as its author.
"""

from service.auth.schemas import ROLES, ApiToken, Role, TokenInfo
from service.auth.service import create_token, list_tokens, revoke_token

__all__ = ["ROLES", "ApiToken", "Role", "TokenInfo", "create_token", "list_tokens", "revoke_token"]
