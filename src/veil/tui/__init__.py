"""``veil tui``: a terminal interface (Textual), a thin view over the client service.

Chats on the left, the open conversation on the right, a composer below; screens for
invitations (with a QR code), contact requests, security codes and relays. Every
action is an API call to ``veil serve`` (:mod:`veil.service.client`); the TUI holds
no protocol or store logic.
"""
