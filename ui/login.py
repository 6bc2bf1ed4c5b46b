"""``GET/POST /login`` and ``GET/POST /logout``: the web UI's key form (no JavaScript, no framework).

A correct key (the API key, or the write key) sets the ``qa_session`` cookie: HttpOnly,
SameSite=Strict, signed with the server's key (:meth:`ui.guard.Guard.make_session`), valid 12 h.
A wrong key answers 401 with the form again (too many from one address: 429, locked out for a
while; :class:`ui.guard.KeyFailures`); the key itself is never stored in the cookie. Logging out
revokes the session on the server.
"""

from __future__ import annotations

import html
import math
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .guard import SESSION_COOKIE, Guard, Role, client_address, frame_headers

MAX_FORM_BYTES = 4096

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>newsqa: log in</title>
<style>
body{{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f5f6fa;color:#1e2235;margin:0}}
main{{max-width:380px;margin:12vh auto;background:#fff;border-radius:14px;padding:28px 30px;box-shadow:0 2px 14px #0001}}
h1{{font-size:1.3rem;margin:0 0 .3rem}} p{{margin:.2rem 0 1rem;color:#555}}
label{{display:block;font-weight:600;margin-bottom:.3rem}}
input[type=password]{{width:100%;box-sizing:border-box;padding:.55rem .7rem;border:1px solid #bbc;border-radius:8px;font:inherit}}
button{{margin-top:1rem;width:100%;padding:.6rem;border:0;border-radius:8px;background:#4f46e5;color:#fff;font:inherit;font-weight:600;cursor:pointer}}
.err{{color:#b42318;font-weight:600}}
</style></head>
<body><main>
<h1>newsqa</h1>
<p>This server needs a key. Ask its operator for the API key (read) or the write key (read and add articles).</p>
{error}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label for="qa-key">Key</label>
<input id="qa-key" name="key" type="password" autocomplete="current-password" required autofocus>
<button id="qa-login" type="submit">Log in</button>
</form>
</main></body></html>
"""


def _safe_next(value: str | None) -> str:
    """Only same-site paths: ``/`` plus a path, never ``//host`` or a scheme (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or not value.isprintable():
        return "/"
    return value


def _page(guard: Guard, next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    body = PAGE.format(next=html.escape(next_path, quote=True),
                       error=f'<p class="err" role="alert">{html.escape(error)}</p>' if error else "")
    headers = {k.decode(): v.decode() for k, v in frame_headers(guard.frame_ancestors)}
    headers["Content-Security-Policy"] = (f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                          f"base-uri 'none'; frame-ancestors {guard.frame_ancestors}")
    headers["Cache-Control"] = "no-store"
    return HTMLResponse(body, status_code=status, headers=headers)


def add_login_routes(app: FastAPI, guard: Guard) -> None:
    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        return _page(guard, _safe_next(request.query_params.get("next")))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return _page(guard, "/", "That form was too large.", 413)
        try:
            form = parse_qs(body.decode("utf-8"), max_num_fields=4)
        except (UnicodeDecodeError, ValueError):
            return _page(guard, "/", "That form could not be read.", 400)
        key = (form.get("key") or [""])[0]
        next_path = _safe_next((form.get("next") or ["/"])[0])
        client = client_address(request)
        wait = guard.key_failures.locked(client)
        if wait:  # locked out after too many wrong keys: the key is not even looked at
            return _page(guard, next_path, f"Too many wrong keys; try again in {math.ceil(wait)} seconds.", 429)
        if not guard.key_is_known(key):
            guard.key_failures.failed(client)
            return _page(guard, next_path, "Wrong key.", 401)
        role = guard.role_for_key(key)
        response = RedirectResponse(next_path, status_code=303)
        response.headers.append("set-cookie", guard.session_cookie(guard.make_session(Role(role)),
                                                                  secure=request.url.scheme == "https"))
        return response

    @app.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
    async def logout(request: Request) -> Response:
        """Revokes the session on the server (a kept copy of the cookie stops working) and clears
        the cookie (GET too: a typed-in /logout must not fall through to Gradio's)."""
        guard.revoke(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("set-cookie", f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
        return response
