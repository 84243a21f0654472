"""``veil web``: the local web app, a thin view over the client service's API.

A small gateway (:mod:`veil.web.gateway`) listens on 127.0.0.1 only. It serves the
checked-in front end (``veil/web/static``: plain HTML, CSS and ES modules, no build
step), lets a browser in with a one-time link that becomes an HttpOnly,
SameSite=Strict session cookie (:mod:`veil.web.sessions`), and carries the
browser's JSON-RPC calls and the live event stream to ``veil serve`` over the API
client (:mod:`veil.web.bridge`). It holds no protocol or store logic.
"""
